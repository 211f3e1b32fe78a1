using Kestrel.Cloud.Agents.Tools.Mcp;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>Start-up connects the servers without waiting for slow ones, and a broken server does not fail it.</summary>
public class McpToolsHostedServiceTests
{
    [Fact]
    public async Task StartAsync_SlowAndBrokenServers_DoNotBlockOrFailStartUp()
    {
        var options = new McpServersOptions
        {
            Servers = new Dictionary<string, McpServerOptions>
            {
                ["everything"] = await McpTestServers.EverythingAsync(),
                ["missing"] = new() { Command = "/nonexistent/kestrel-mcp-server" },
                ["silent"] = new() { Command = "node", Args = ["-e", "setInterval(() => {}, 1000)"], ConnectTimeout = TimeSpan.FromSeconds(3) },
            },
            StartupWait = TimeSpan.FromMilliseconds(300),
        };
        await using var source = new McpToolSource(Options.Create(options));
        var service = new McpToolsHostedService(source, Options.Create(options));

        await service.StartAsync(CancellationToken.None).WaitAsync(McpTestServers.Timeout);

        source.GetConnection("silent")!.Status.State.Should().Be(McpServerState.Connecting, "start-up returned after StartupWait, before the silent server's 3 s ConnectTimeout");

        await service.Connecting.WaitAsync(McpTestServers.Timeout);
        IReadOnlyList<McpServerStatus> status = source.GetStatus();
        status.Select(s => (s.Server, s.State)).Should().Equal(
            ("everything", McpServerState.Connected),
            ("missing", McpServerState.Failed),
            ("silent", McpServerState.Failed));
        status[0].ToolCount.Should().BeGreaterThan(5);
        status[1].Reason.Should().Contain("could not be started");
        status[2].Reason.Should().Be("it did not connect within 3s (ConnectTimeout).");
        source.GetTools().Should().OnlyContain(t => t.McpServer == "everything").And.NotBeEmpty();

        await service.StopAsync(CancellationToken.None).WaitAsync(McpTestServers.Timeout);

        Func<Task> after = () => source.GetConnection("everything")!.CallToolAsync("echo", new Dictionary<string, object?>());
        await after.Should().ThrowAsync<ObjectDisposedException>("stopping the host stops the servers");
    }
}
