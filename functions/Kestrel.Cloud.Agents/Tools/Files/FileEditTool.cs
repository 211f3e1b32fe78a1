using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary><c>files_edit</c>: replaces one exact, unique occurrence of <c>old_text</c> with <c>new_text</c> in a text file.</summary>
public sealed class FileEditTool : FileToolBase
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "files_edit";

    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {
          "type": "object",
          "properties": {
            "path": { "type": "string", "description": "File path relative to the workspace root." },
            "old_text": { "type": "string", "description": "The exact text to replace, including whitespace; it must occur exactly once in the file." },
            "new_text": { "type": "string", "description": "The replacement text." }
          },
          "required": ["path", "old_text", "new_text"],
          "additionalProperties": false
        }
        """);

    /// <summary>Creates the tool.</summary>
    public FileEditTool(IOptions<FileToolOptions>? options = null)
        : base(options)
    {
    }

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Change part of a text file in your workspace: replaces old_text, which must occur exactly once, with new_text. Read the file first and copy old_text exactly.";

    /// <inheritdoc/>
    public override JsonElement ParametersSchema => Schema;

    /// <inheritdoc/>
    public override bool IsReadOnly => false;

    /// <inheritdoc/>
    protected override async Task<ToolResult> InvokeCoreAsync(JsonElement arguments, WorkspacePathGuard guard, CancellationToken cancellationToken)
    {
        WorkspacePath path = guard.Resolve(ToolArguments.GetRequiredString(arguments, "path"));
        string oldText = ToolArguments.GetRequiredString(arguments, "old_text");
        string newText = ToolArguments.GetRequiredString(arguments, "new_text");
        if (oldText.Length == 0)
        {
            throw new ToolException("old_text is empty; give the exact text to replace (to write a whole file, use files_write).");
        }

        RequireTextFile(path, ToolName);
        long size = new FileInfo(path.FullPath).Length;
        if (size > this.Options.MaxWriteSizeBytes)
        {
            throw new ToolException($"'{path.RelativePath}' is {size:N0} bytes; files_edit edits files of at most {this.Options.MaxWriteSizeBytes:N0} bytes.");
        }

        string content = await File.ReadAllTextAsync(path.FullPath, Utf8, cancellationToken).ConfigureAwait(false);
        int first = content.IndexOf(oldText, StringComparison.Ordinal);
        if (first < 0)
        {
            throw new ToolException($"old_text was not found in {path.RelativePath}; read the file and copy the exact text, including whitespace and line breaks.");
        }

        int count = 0;
        for (int at = first; at >= 0; at = content.IndexOf(oldText, at + 1, StringComparison.Ordinal))
        {
            count++;
        }

        if (count > 1)
        {
            throw new ToolException($"old_text occurs {count} times in {path.RelativePath}; include more of the surrounding lines so that it matches exactly once.");
        }

        string updated = string.Concat(content.AsSpan(0, first), newText, content.AsSpan(first + oldText.Length));
        int bytes = Encoding.UTF8.GetByteCount(updated);
        if (bytes > this.Options.MaxWriteSizeBytes)
        {
            throw new ToolException($"The edited file would be {bytes:N0} bytes; files are limited to {this.Options.MaxWriteSizeBytes:N0} bytes.");
        }

        await AtomicFile.WriteAllTextAsync(path.FullPath, updated, overwrite: true, cancellationToken).ConfigureAwait(false);
        int line = 1 + content.AsSpan(0, first).Count('\n');
        return ToolResult.Success($"Edited {path.RelativePath}: replaced 1 occurrence at line {line}.");
    }
}
