using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary><c>files_write</c>: creates or replaces a text file in the workspace (atomically), creating folders as needed.</summary>
public sealed class FileWriteTool : FileToolBase
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "files_write";

    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {
          "type": "object",
          "properties": {
            "path": { "type": "string", "description": "File path relative to the workspace root, e.g. 'notes/todo.md'." },
            "content": { "type": "string", "description": "The complete new content of the file." }
          },
          "required": ["path", "content"],
          "additionalProperties": false
        }
        """);

    /// <summary>Creates the tool.</summary>
    public FileWriteTool(IOptions<FileToolOptions>? options = null)
        : base(options)
    {
    }

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Create a file in your workspace, or replace its whole content. Folders are created as needed. To change part of a file, use files_edit.";

    /// <inheritdoc/>
    public override JsonElement ParametersSchema => Schema;

    /// <inheritdoc/>
    public override bool IsReadOnly => false;

    /// <inheritdoc/>
    protected override async Task<ToolResult> InvokeCoreAsync(JsonElement arguments, WorkspacePathGuard guard, CancellationToken cancellationToken)
    {
        WorkspacePath path = guard.Resolve(ToolArguments.GetRequiredString(arguments, "path"));
        string content = ToolArguments.GetRequiredString(arguments, "content");
        if (path.RelativePath == ".")
        {
            throw new ToolException("The path names the workspace root; give a file path such as 'notes/todo.md'.");
        }

        int bytes = Encoding.UTF8.GetByteCount(content);
        if (bytes > this.Options.MaxWriteSizeBytes)
        {
            throw new ToolException($"The content is {bytes:N0} bytes; files_write writes at most {this.Options.MaxWriteSizeBytes:N0} bytes per file.");
        }

        if (Directory.Exists(path.FullPath))
        {
            throw new ToolException($"'{path.RelativePath}' is a folder; give a file path.");
        }

        bool existed = File.Exists(path.FullPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path.FullPath)!);
        await AtomicFile.WriteAllTextAsync(path.FullPath, content, overwrite: true, cancellationToken).ConfigureAwait(false);
        return ToolResult.Success($"{(existed ? "Replaced" : "Created")} {path.RelativePath} ({bytes:N0} bytes).");
    }
}
