using Kestrel.Cloud.Agents.Tests.Support;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Files;
using Kestrel.Cloud.Agents.Tools.Shell;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tests.Tools.Shell;

public sealed class ShellToolTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly ToolInvocationContext context;

    public ShellToolTests()
    {
        this.context = new ToolInvocationContext("bot", Path.Join(this.temp.Path, "files"));
    }

    public void Dispose() => this.temp.Dispose();

    private static ShellTool Enabled(TimeProvider? clock = null, int maxOutputBytes = 16_384, TimeSpan? timeout = null) =>
        new(Options.Create(new ShellToolOptions { Enabled = true, MaxOutputBytes = maxOutputBytes, Timeout = timeout ?? TimeSpan.FromMinutes(1) }), clock);

    private Task<ToolResult> Run(ShellTool tool, string command) => tool.InvokeAsync(Json.Args(new { command }), this.context, CancellationToken.None);

    [Fact]
    public void Flags_NotReadOnlyAndAlwaysRequiresApproval()
    {
        var tool = new ShellTool();
        IAgentTool asTool = tool;

        asTool.IsReadOnly.Should().BeFalse();
        asTool.RequiresApproval.Should().BeTrue();
        asTool.IsReadOnlyFor(Json.Args(new { command = "ls" })).Should().BeFalse();
    }

    [Fact]
    public async Task InvokeAsync_DefaultOptions_DisabledAndNoProcessRuns()
    {
        ToolResult result = await this.Run(new ShellTool(), "touch ran.txt");

        result.Should().Be(ToolResult.Error("The shell tool is disabled on this server. An administrator can enable it (standalone mode only) with KestrelCloud:Tools:Shell:Enabled=true."));
        File.Exists(Path.Join(this.context.WorkspaceDirectory, "ran.txt")).Should().BeFalse();
    }

    [Fact]
    public async Task InvokeAsync_Enabled_RunsRealProcessInWorkspaceWithExitCodeAndOutput()
    {
        ToolResult result = await this.Run(Enabled(), "pwd; echo out; echo err >&2; touch made.txt; exit 3");

        string workspace = WorkspacePathGuard.RealPath(this.context.WorkspaceDirectory);
        result.IsError.Should().BeTrue("a non-zero exit code is a failed call");
        result.Text.Should().Be($"Exit code 3.\n--- output ---\n{workspace}\nout\nerr\n", "stdout and stderr share one pipe, in the order written");
        File.Exists(Path.Join(this.context.WorkspaceDirectory, "made.txt")).Should().BeTrue();
    }

    [Fact]
    public async Task InvokeAsync_AlternatingStdoutAndStderr_KeepsTheOrderWritten()
    {
        ToolResult result = await this.Run(Enabled(), "for i in $(seq 1 300); do echo o$i; echo e$i >&2; done");

        string expected = string.Concat(Enumerable.Range(1, 300).Select(i => $"o{i}\ne{i}\n"));
        result.Should().Be(ToolResult.Success($"Exit code 0.\n--- output ---\n{expected}"));
    }

    [Fact]
    public async Task InvokeAsync_SyntaxError_ReportedOnTheCommandsOwnLine()
    {
        ToolResult result = await this.Run(Enabled(), "echo first\nif then");

        result.IsError.Should().BeTrue();
        result.Text.Should().StartWith("Exit code 2.\n--- output ---\n").And.Contain("line 2: syntax error");
    }

    [Fact]
    public async Task InvokeAsync_SyntaxErrorOnFirstLine_StillInTheOutput()
    {
        ToolResult result = await this.Run(Enabled(), "if then");

        result.IsError.Should().BeTrue();
        result.Text.Should().StartWith("Exit code 2.\n--- output ---\n").And.Contain("line 1: syntax error");
    }

    [Fact]
    public async Task InvokeAsync_StdinClosed_CommandReadingInputDoesNotHang()
    {
        ToolResult result = await this.Run(Enabled(), "cat; echo done");

        result.Should().Be(ToolResult.Success("Exit code 0.\n--- output ---\ndone\n"));
    }

    [Fact]
    public async Task InvokeAsync_ServerSecretsInEnvironment_NotPassedToCommand()
    {
        string name = "KESTREL_TEST_SECRET_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(name, "sk-live-123");
        try
        {
            ToolResult result = await this.Run(Enabled(), $"echo \"[${name}]\"; echo \"home=$HOME\"; test -n \"$PATH\" && echo has-path");

            result.Text.Should().Contain("[]\n").And.NotContain("sk-live-123");
            result.Text.Should().Contain($"home={WorkspacePathGuard.RealPath(this.context.WorkspaceDirectory)}\n").And.Contain("has-path");
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public async Task InvokeAsync_LargeOutput_CappedWithNoteWhileProcessCompletes()
    {
        ToolResult result = await this.Run(Enabled(maxOutputBytes: 1024), "head -c 100000 /dev/zero | tr '\\0' a; echo; echo finished >&2");

        result.IsTruncated.Should().BeTrue();
        result.IsError.Should().BeFalse();
        result.Text.Should().Be($"Exit code 0.\n--- output ---\n{new string('a', 1024)}\n[output truncated: showing the first 1,024 of 100,010 bytes.]");
    }

    [Fact]
    public async Task InvokeAsync_Timeout_KillsWholeProcessTree()
    {
        var clock = new ManualTimeProvider();
        string workspace = this.context.WorkspaceDirectory;
        Task<ToolResult> run = this.Run(Enabled(clock, timeout: TimeSpan.FromMinutes(1)), "sleep 300 & echo $! > child.pid; echo started; echo ready > started.txt; wait");

        (await Eventually.TrueAsync(() => File.Exists(Path.Join(workspace, "started.txt")))).Should().BeTrue("the command starts");
        run.IsCompleted.Should().BeFalse();
        clock.Advance(TimeSpan.FromMinutes(1));

        // A surviving child would keep the output pipe open and the call would never return: bound the wait.
        ToolResult result = await run.WaitAsync(TimeSpan.FromSeconds(30));

        result.IsError.Should().BeTrue();
        result.Text.Should().Be("The command did not finish within 1m; it and every process it started were killed.\n--- output so far ---\nstarted\n");
        int childPid = int.Parse(File.ReadAllText(Path.Join(workspace, "child.pid")).Trim());
        (await Eventually.TrueAsync(() => IsGone(childPid))).Should().BeTrue("the background child was killed with its parent");
    }

    [Fact]
    public async Task InvokeAsync_CallerCancels_KillsProcessAndRethrows()
    {
        using var cts = new CancellationTokenSource();
        string workspace = this.context.WorkspaceDirectory;
        Task<ToolResult> run = Enabled().InvokeAsync(Json.Args(new { command = "echo $$ > self.pid; sleep 300" }), this.context, cts.Token);
        (await Eventually.TrueAsync(() => File.Exists(Path.Join(workspace, "self.pid")) && File.ReadAllText(Path.Join(workspace, "self.pid")).Trim().Length > 0)).Should().BeTrue();

        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        int pid = int.Parse(File.ReadAllText(Path.Join(workspace, "self.pid")).Trim());
        (await Eventually.TrueAsync(() => IsGone(pid))).Should().BeTrue();
    }

    [Fact]
    public void Options_InvalidValues_AllReportedTogether()
    {
        Action act = () => new ShellTool(Options.Create(new ShellToolOptions { ShellPath = "", Timeout = TimeSpan.Zero, MaxOutputBytes = 10 }));

        act.Should().Throw<ArgumentException>().Which.Message.Should().Be(
            "ShellToolOptions is not valid:\n- The value for ShellPath must not be empty.\n- The value for Timeout must be greater than zero; it is 00:00:00.\n- The value for MaxOutputBytes must be at least 1024; it is 10.");
    }

    /// <summary>True when the process no longer exists or is a zombie waiting to be reaped.</summary>
    private static bool IsGone(int pid)
    {
        string stat = $"/proc/{pid}/stat";
        try
        {
            string text = File.ReadAllText(stat);
            string state = text[(text.LastIndexOf(')') + 2)..].Split(' ')[0];
            return state is "Z" or "X";
        }
        catch (IOException)
        {
            return true;
        }
    }
}
