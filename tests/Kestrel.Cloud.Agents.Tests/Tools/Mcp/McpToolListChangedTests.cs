using Kestrel.Cloud.Agents.Tests.Support;
using Kestrel.Cloud.Agents.Tools.Mcp;
using Kestrel.Cloud.Testing.Node;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>A server that adds a tool while connected: notifications/tools/list_changed refreshes the tools offered.</summary>
public class McpToolListChangedTests
{
    [Fact]
    public async Task ToolListChanged_RefreshesTheTools()
    {
        await NodePackages.EnsureInstalledAsync().WaitAsync(NodePackages.InstallTimeout);

        // Run from the source folder so node resolves @modelcontextprotocol/sdk from the repository's node_modules.
        string script = Path.Combine(NodePackages.FindRepositoryRoot(), "tests", "Kestrel.Cloud.Agents.Tests", "Tools", "Mcp", "dynamic-tools-server.mjs");
        await using McpServerConnection connection = McpTestServers.Connection("dyn", new McpServerOptions { Command = "node", Args = [script], ConnectTimeout = McpTestServers.Timeout });
        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeTrue(connection.Status.Reason);
        connection.Tools.Select(t => t.Name).Should().Equal("dyn__add_tool");

        (await connection.Tool("add_tool").CallAsync(new { })).Text.Should().Be("registered");

        // The notification arrives on the server's schedule; wait for its effect (bounded).
        (await Eventually.TrueAsync(() => connection.Tools.Count == 2)).Should().BeTrue("the list_changed notification should refresh the tools");
        connection.Tools.Select(t => t.Name).Should().Equal("dyn__add_tool", "dyn__added");
        connection.Status.ToolCount.Should().Be(2);
        (await connection.Tool("added").CallAsync(new { })).Text.Should().Be("added ran");
    }
}
