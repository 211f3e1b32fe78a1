using System.Diagnostics;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Mcp;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>server-everything in its streamable HTTP mode on a free port, reached by URL.</summary>
public sealed class McpStreamableHttpTests : IAsyncLifetime
{
    private readonly TaskCompletionSource listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Text.StringBuilder output = new();
    private Process? server;
    private int port;

    public async Task InitializeAsync()
    {
        string script = await McpTestServers.EverythingScriptAsync();
        this.port = TestPorts.GetFreeTcpPort();
        var psi = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add("streamableHttp");
        psi.Environment["PORT"] = this.port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        this.server = new Process { StartInfo = psi };
        this.server.OutputDataReceived += (_, e) => this.OnLine(e.Data);
        this.server.ErrorDataReceived += (_, e) => this.OnLine(e.Data);
        this.server.Start();
        this.server.BeginOutputReadLine();
        this.server.BeginErrorReadLine();

        // The server says when it listens; wait for that line (bounded), not for time.
        await this.listening.Task.WaitAsync(McpTestServers.Timeout);
    }

    public Task DisposeAsync()
    {
        if (this.server is { HasExited: false })
        {
            this.server.Kill(entireProcessTree: true);
        }

        this.server?.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Url_ConnectsListsAndCallsTools()
    {
        var options = new McpServerOptions
        {
            Url = $"http://127.0.0.1:{this.port}/mcp",
            Headers = new Dictionary<string, string> { ["X-Test"] = "1" },
            ConnectTimeout = McpTestServers.Timeout,
        };
        await using McpServerConnection connection = McpTestServers.Connection("remote", options);

        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeTrue(connection.Status.Reason);

        connection.Status.Transport.Should().Be("http");
        connection.Status.State.Should().Be(McpServerState.Connected);
        connection.Tools.Select(t => t.Name).Should().Contain("remote__echo");
        ToolResult result = await connection.Tool("echo").CallAsync(new { message = "over http" });
        result.Should().Be(new ToolResult("Echo: over http"));
        (await connection.Tool("get-sum").CallAsync(new { a = 1.5, b = 2 })).Text.Should().Contain("3.5");
    }

    [Fact]
    public async Task Url_NothingListening_FailsWithAReason()
    {
        int closedPort = TestPorts.GetFreeTcpPort();
        var options = new McpServerOptions { Url = $"http://127.0.0.1:{closedPort}/mcp", ConnectTimeout = TimeSpan.FromSeconds(20) };
        await using McpServerConnection connection = McpTestServers.Connection("remote", options);

        (await connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeFalse();

        connection.Status.State.Should().Be(McpServerState.Failed);
        connection.Status.Reason.Should().StartWith("the HTTP endpoint could not be reached: Connection refused");
        connection.Status.Reason.Should().NotContain("did not connect within", "a refused connection fails at once, not at the timeout");
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (this.output)
        {
            this.output.AppendLine(line);
        }

        if (line.Contains($"listening on port {this.port}", StringComparison.Ordinal))
        {
            this.listening.TrySetResult();
        }
        else if (line.Contains("Failed to start", StringComparison.Ordinal))
        {
            this.listening.TrySetException(new InvalidOperationException(line));
        }
    }
}
