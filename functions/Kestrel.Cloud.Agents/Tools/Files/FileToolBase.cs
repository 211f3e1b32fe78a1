using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary>Shared parts of the workspace file tools: options, the path guard per call, text helpers.</summary>
public abstract class FileToolBase : IAgentTool
{
    /// <summary>Bytes inspected to tell a binary file from text (a NUL byte means binary).</summary>
    protected const int BinarySniffBytes = 8000;

    /// <summary>Creates the tool; options are validated here.</summary>
    protected FileToolBase(IOptions<FileToolOptions>? options)
    {
        this.Options = options?.Value ?? new FileToolOptions();
        this.Options.Validate();
    }

    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <inheritdoc/>
    public abstract string Description { get; }

    /// <inheritdoc/>
    public abstract JsonElement ParametersSchema { get; }

    /// <inheritdoc/>
    public abstract bool IsReadOnly { get; }

    /// <summary>The limits in force.</summary>
    protected FileToolOptions Options { get; }

    /// <inheritdoc/>
    public Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        Directory.CreateDirectory(context.WorkspaceDirectory);
        return this.InvokeCoreAsync(arguments, new WorkspacePathGuard(context.WorkspaceDirectory), cancellationToken);
    }

    /// <summary>Runs the call with a guard for the caller's workspace.</summary>
    protected abstract Task<ToolResult> InvokeCoreAsync(JsonElement arguments, WorkspacePathGuard guard, CancellationToken cancellationToken);

    /// <summary>True when the file's first bytes contain a NUL byte.</summary>
    protected static bool LooksBinary(string fullPath)
    {
        using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        byte[] buffer = new byte[BinarySniffBytes];
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return buffer.AsSpan(0, read).Contains((byte)0);
    }

    /// <summary>Cuts a line to <see cref="FileToolOptions.MaxLineLength"/> characters.</summary>
    protected string CapLine(string line) =>
        line.Length <= this.Options.MaxLineLength ? line : line[..this.Options.MaxLineLength] + "…";

    /// <summary>Fails unless <paramref name="path"/> is an existing text file.</summary>
    protected static void RequireTextFile(WorkspacePath path, string toolName)
    {
        if (Directory.Exists(path.FullPath))
        {
            throw new ToolException($"'{path.RelativePath}' is a folder; use files_list to see what it contains.");
        }

        if (!File.Exists(path.FullPath))
        {
            throw new ToolException($"'{path.RelativePath}' does not exist; use files_list to see which files there are.");
        }

        if (LooksBinary(path.FullPath))
        {
            throw new ToolException($"'{path.RelativePath}' is a binary file ({new FileInfo(path.FullPath).Length:N0} bytes); {toolName} works on text files only.");
        }
    }

    /// <summary>UTF-8 without a byte order mark.</summary>
    protected static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
}
