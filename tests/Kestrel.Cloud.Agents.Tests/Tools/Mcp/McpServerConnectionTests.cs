using Kestrel.Cloud.Agents.Tests.Support;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Mcp;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>Connection lifecycle against real processes: dispose kills the child, drops reconnect, failures report a reason.</summary>
public class McpServerConnectionTests
{
    [Fact]
    public async Task DisposeAsync_KillsTheServerProcess()
    {
        using var dir = new TempDirectory("mcp-pid");
        await using McpServerConnection connection = McpTestServers.Connection("everything", await EverythingWritingPidAsync(dir.Path));
        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeTrue(connection.Status.Reason);
        int pid = ReadPid(dir.Path);
        McpTestServers.IsAlive(pid).Should().BeTrue();

        await connection.DisposeAsync().AsTask().WaitAsync(McpTestServers.Timeout);

        (await Eventually.TrueAsync(() => !McpTestServers.IsAlive(pid))).Should().BeTrue($"process {pid} should be gone after dispose");
    }

    [Fact]
    public async Task CallToolAsync_AfterTheProcessDied_ReportsDisconnectedThenReconnects()
    {
        using var dir = new TempDirectory("mcp-pid");
        await using McpServerConnection connection = McpTestServers.Connection("everything", await EverythingWritingPidAsync(dir.Path));
        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeTrue(connection.Status.Reason);
        int first = ReadPid(dir.Path);
        McpAgentTool echo = connection.Tool("echo");

        System.Diagnostics.Process.GetProcessById(first).Kill();

        (await Eventually.TrueAsync(() => connection.Status.State == McpServerState.Disconnected)).Should().BeTrue($"status is {connection.Status}");
        connection.Status.Reason.Should().StartWith("the server process");
        connection.Tools.Should().Contain(echo, "tools stay offered while the server is down, so a call can reconnect");

        ToolResult result = await echo.CallAsync(new { message = "again" });

        result.Text.Should().Be("Echo: again");
        connection.Status.State.Should().Be(McpServerState.Connected);
        ReadPid(dir.Path).Should().NotBe(first, "a new server process was started");
    }

    [Fact]
    public async Task ConnectAsync_CommandNotFound_FailsWithAClearReason()
    {
        await using McpServerConnection connection = McpTestServers.Connection("missing", new McpServerOptions { Command = "/nonexistent/kestrel-mcp-server", ConnectTimeout = TimeSpan.FromSeconds(20) });

        bool connected = await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout);

        connected.Should().BeFalse();
        connection.Status.State.Should().Be(McpServerState.Failed);
        connection.Status.IsHealthy.Should().BeFalse();
        connection.Status.Reason.Should().Contain("the command '/nonexistent/kestrel-mcp-server' could not be started").And.Contain("KestrelCloud:Mcp:Servers:missing:Command");
        connection.Tools.Should().BeEmpty();
    }

    [Fact]
    public async Task ConnectAsync_ServerExitsAtOnce_FailsAndShowsItsStderr()
    {
        var server = new McpServerOptions { Command = "node", Args = ["-e", "console.error('boom: GITHUB_TOKEN is not set'); process.exit(3)"], ConnectTimeout = TimeSpan.FromSeconds(30) };
        await using McpServerConnection connection = McpTestServers.Connection("broken", server);

        bool connected = await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout);

        connected.Should().BeFalse();
        connection.Status.State.Should().Be(McpServerState.Failed);
        connection.Status.Reason.Should().Contain("boom: GITHUB_TOKEN is not set");
    }

    [Fact]
    public async Task ConnectAsync_ServerNeverAnswers_FailsAtTheConnectTimeout()
    {
        var server = new McpServerOptions { Command = "node", Args = ["-e", "setInterval(() => {}, 1000)"], ConnectTimeout = TimeSpan.FromSeconds(1) };
        await using McpServerConnection connection = McpTestServers.Connection("silent", server);

        bool connected = await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout);

        connected.Should().BeFalse();
        connection.Status.Reason.Should().Be("it did not connect within 1s (ConnectTimeout).");
    }

    [Fact]
    public async Task CallToolAsync_ServerUnavailable_IsAToolErrorAndNotRetriedWithinTheDelay()
    {
        await using McpServerConnection connection = McpTestServers.Connection("missing", new McpServerOptions { Command = "/nonexistent/kestrel-mcp-server" });
        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeFalse();
        DateTimeOffset failedAt = connection.Status.Since;

        Func<Task> act = () => connection.CallToolAsync("echo", new Dictionary<string, object?>()).WaitAsync(McpTestServers.Timeout);

        (await act.Should().ThrowAsync<ToolException>()).Which.Message.Should().StartWith("The MCP server missing is not available: the command");
        connection.Status.Since.Should().Be(failedAt, "within ReconnectDelay the failure is answered without a new attempt");
    }

    [Fact]
    public async Task CallToolAsync_AfterTheReconnectDelay_TriesAgain()
    {
        var clock = new ManualTimeProvider();
        await using McpServerConnection connection = McpTestServers.Connection("missing", new McpServerOptions { Command = "/nonexistent/kestrel-mcp-server" }, timeProvider: clock);
        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeFalse();
        DateTimeOffset firstFailure = connection.Status.Since;
        Func<Task> call = () => connection.CallToolAsync("echo", new Dictionary<string, object?>()).WaitAsync(McpTestServers.Timeout);

        clock.Advance(TimeSpan.FromSeconds(4));
        await call.Should().ThrowAsync<ToolException>();
        connection.Status.Since.Should().Be(firstFailure, "4 s is within the 5 s ReconnectDelay");

        clock.Advance(TimeSpan.FromSeconds(1));
        await call.Should().ThrowAsync<ToolException>();
        connection.Status.Since.Should().Be(firstFailure + TimeSpan.FromSeconds(5), "after the delay the call made a new attempt, which failed again");
    }

    [Fact]
    public async Task CallToolAsync_SlowerThanCallTimeout_IsAToolError()
    {
        McpServerOptions server = await McpTestServers.EverythingAsync();
        server.CallTimeout = TimeSpan.FromSeconds(1);
        await using McpServerConnection connection = McpTestServers.Connection("everything", server);
        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeTrue(connection.Status.Reason);

        Func<Task> act = () => connection.Tool("trigger-long-running-operation").CallAsync(new { duration = 30, steps = 2 });

        await act.Should().ThrowAsync<ToolException>().WithMessage("The tool trigger-long-running-operation of the MCP server everything did not answer within 1s; the call was cancelled.");
        (await connection.Tool("echo").CallAsync(new { message = "still here" })).Text.Should().Be("Echo: still here");
    }

    [Fact]
    public async Task Disabled_NeverStartsAndRefusesCalls()
    {
        McpServerOptions server = await McpTestServers.EverythingAsync();
        server.Enabled = false;
        await using McpServerConnection connection = McpTestServers.Connection("off", server);

        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeFalse();

        connection.Status.State.Should().Be(McpServerState.Disabled);
        connection.Status.IsHealthy.Should().BeTrue();
        connection.Tools.Should().BeEmpty();
        Func<Task> act = () => connection.CallToolAsync("echo", new Dictionary<string, object?>());
        await act.Should().ThrowAsync<ToolException>().WithMessage("The MCP server off is disabled (KestrelCloud:Mcp:Servers:off:Enabled is false).");
    }

    private static async Task<McpServerOptions> EverythingWritingPidAsync(string directory)
    {
        // bash writes its pid and execs node in its place, so the pid file names the server process itself.
        string script = await McpTestServers.EverythingScriptAsync();
        string pidFile = Path.Combine(directory, "pid");
        return new McpServerOptions
        {
            Command = "bash",
            Args = ["-c", "echo $$ > \"$1\"; exec node \"$2\" stdio", "bash", pidFile, script],
            ConnectTimeout = McpTestServers.Timeout,
        };
    }

    private static int ReadPid(string directory) => int.Parse(File.ReadAllText(Path.Combine(directory, "pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
}
