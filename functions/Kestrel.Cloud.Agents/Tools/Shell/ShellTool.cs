using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Tools.Files;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Shell;

/// <summary>
/// <c>shell</c>: runs a command as a child process (<c>bash -c</c>) in the agent's workspace folder. Off unless
/// <see cref="ShellToolOptions.Enabled"/>; every call requires approval (<see cref="RequiresApproval"/>, which no
/// policy rule can lift). The environment is scrubbed to <see cref="ShellToolOptions.PassEnvironmentVariables"/>,
/// stdin is closed, output is capped, and at the timeout the whole process tree is killed.
/// </summary>
public sealed class ShellTool : IAgentTool
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "shell";

    /// <summary>
    /// Put before every command, on its first line so bash's line numbers stay the command's own: the shell sends
    /// stderr (2) to stdout's pipe (1) for the rest of the command. A syntax error on the first line stops bash before
    /// the <c>exec</c> runs, so that message still arrives on the stderr pipe, which is drained too.
    /// </summary>
    private const string MergeStderrPrefix = "exec 2>&1; ";

    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {
          "type": "object",
          "properties": {
            "command": { "type": "string", "description": "The command line, run with bash -c in your workspace folder." }
          },
          "required": ["command"],
          "additionalProperties": false
        }
        """);

    private readonly ShellToolOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;

    /// <summary>Creates the tool; options are validated here.</summary>
    public ShellTool(IOptions<ShellToolOptions>? options = null, TimeProvider? timeProvider = null, ILogger<ShellTool>? logger = null)
    {
        this.options = options?.Value ?? new ShellToolOptions();
        this.options.Validate();
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <inheritdoc/>
    public string Name => ToolName;

    /// <inheritdoc/>
    public string Description => "Run a shell command (bash -c) in your workspace folder and return its exit code and output. Every command waits for a person's approval; explain why you need it.";

    /// <inheritdoc/>
    public JsonElement ParametersSchema => Schema;

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <inheritdoc/>
    public bool RequiresApproval => true;

    /// <inheritdoc/>
    public bool IsReadOnlyFor(JsonElement arguments) => false;

    /// <inheritdoc/>
    public async Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!this.options.Enabled)
        {
            return ToolResult.Error("The shell tool is disabled on this server. An administrator can enable it (standalone mode only) with KestrelCloud:Tools:Shell:Enabled=true.");
        }

        string command = ToolArguments.GetRequiredString(arguments, "command");
        if (string.IsNullOrWhiteSpace(command))
        {
            throw new ToolException("The command is empty.");
        }

        if (command.Contains('\0', StringComparison.Ordinal))
        {
            throw new ToolException("The command contains a NUL character.");
        }

        Directory.CreateDirectory(context.WorkspaceDirectory);
        string workingDirectory = WorkspacePathGuard.RealPath(context.WorkspaceDirectory);
        var start = new ProcessStartInfo(this.options.ShellPath)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");

        // stderr joins stdout's pipe inside the shell, so the output reads in the order the command wrote it;
        // two pipes drained side by side would interleave them by whichever reader woke first.
        start.ArgumentList.Add(MergeStderrPrefix + command);
        start.Environment.Clear();
        foreach (string name in this.options.PassEnvironmentVariables)
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
            {
                start.Environment[name] = value;
            }
        }

        start.Environment["HOME"] = workingDirectory;

        // The timeout starts before the process does, so it covers the whole call.
        using var timeoutSource = new CancellationTokenSource(this.options.Timeout, this.timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new ToolException($"The shell '{this.options.ShellPath}' could not be started: {ex.Message}");
        }

        Log.ShellStarted(this.logger, process.Id, context.AgentName, context.CallId);
        process.StandardInput.Close();
        var output = new CappedOutput(this.options.MaxOutputBytes);
        Task readers = Task.WhenAll(
            output.DrainAsync(process.StandardOutput.BaseStream),
            output.DrainAsync(process.StandardError.BaseStream));

        bool timedOut = false;
        try
        {
            await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            timedOut = !cancellationToken.IsCancellationRequested;
            if (!timedOut)
            {
                throw;
            }
        }

        // Pipes close when every process holding them has exited; bound the wait in case one escaped the tree.
        await Task.WhenAny(readers, Task.Delay(this.options.OutputDrainTimeout, this.timeProvider)).ConfigureAwait(false);
        string text = output.ToString();
        if (timedOut)
        {
            Log.ShellTimedOut(this.logger, process.Id, context.AgentName, this.options.Timeout);
            return new ToolResult(
                $"The command did not finish within {Durations.Format(this.options.Timeout)}; it and every process it started were killed.\n--- output so far ---\n{text}{output.Note}",
                IsError: true,
                IsTruncated: output.IsTruncated);
        }

        Log.ShellExited(this.logger, process.Id, context.AgentName, process.ExitCode);
        return new ToolResult(
            $"Exit code {process.ExitCode}.\n--- output ---\n{text}{output.Note}",
            IsError: process.ExitCode != 0,
            IsTruncated: output.IsTruncated);
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    /// <summary>Collects stdout and stderr, interleaved as they arrive, up to a cap; keeps draining past it so the child never blocks on a full pipe.</summary>
    private sealed class CappedOutput
    {
        private readonly object gate = new();
        private readonly MemoryStream kept = new();
        private readonly int maxBytes;
        private long totalBytes;

        public CappedOutput(int maxBytes) => this.maxBytes = maxBytes;

        public bool IsTruncated
        {
            get
            {
                lock (this.gate)
                {
                    return this.totalBytes > this.maxBytes;
                }
            }
        }

        public string Note
        {
            get
            {
                lock (this.gate)
                {
                    return this.totalBytes > this.maxBytes
                        ? $"\n[output truncated: showing the first {this.maxBytes:N0} of {this.totalBytes:N0} bytes.]"
                        : string.Empty;
                }
            }
        }

        public async Task DrainAsync(Stream stream)
        {
            byte[] buffer = new byte[8192];
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    lock (this.gate)
                    {
                        int room = (int)Math.Max(0, this.maxBytes - this.kept.Length);
                        this.kept.Write(buffer, 0, Math.Min(room, read));
                        this.totalBytes += read;
                    }
                }
            }
            catch (IOException)
            {
                // The pipe broke when the process was killed.
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public override string ToString()
        {
            lock (this.gate)
            {
                return ToolOutput.DecodeUtf8Prefix(this.kept.GetBuffer().AsSpan(0, (int)this.kept.Length));
            }
        }
    }
}
