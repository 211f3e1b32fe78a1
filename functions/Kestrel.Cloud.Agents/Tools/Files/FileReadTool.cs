using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary><c>files_read</c>: reads lines of a text file in the workspace, numbered, from <c>offset</c> (1-based) for <c>limit</c> lines.</summary>
public sealed class FileReadTool : FileToolBase
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "files_read";

    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {
          "type": "object",
          "properties": {
            "path": { "type": "string", "description": "File path relative to the workspace root, e.g. 'notes/todo.md'." },
            "offset": { "type": "integer", "minimum": 1, "description": "First line to return (1-based). Default 1." },
            "limit": { "type": "integer", "minimum": 1, "description": "How many lines to return. Default and maximum 2000." }
          },
          "required": ["path"],
          "additionalProperties": false
        }
        """);

    /// <summary>Creates the tool.</summary>
    public FileReadTool(IOptions<FileToolOptions>? options = null)
        : base(options)
    {
    }

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Read a text file from your workspace. Returns numbered lines; use offset and limit to page through long files.";

    /// <inheritdoc/>
    public override JsonElement ParametersSchema => Schema;

    /// <inheritdoc/>
    public override bool IsReadOnly => true;

    /// <inheritdoc/>
    protected override async Task<ToolResult> InvokeCoreAsync(JsonElement arguments, WorkspacePathGuard guard, CancellationToken cancellationToken)
    {
        WorkspacePath path = guard.Resolve(ToolArguments.GetRequiredString(arguments, "path"));
        int offset = ToolArguments.GetInt32(arguments, "offset", 1, int.MaxValue) ?? 1;
        int limit = ToolArguments.GetInt32(arguments, "limit", 1, this.Options.MaxReadLines) ?? this.Options.MaxReadLines;
        RequireTextFile(path, ToolName);

        var output = new StringBuilder();
        int lineNumber = 0;
        int shown = 0;
        bool more = false;
        using (var reader = new StreamReader(path.FullPath, Utf8, detectEncodingFromByteOrderMarks: true))
        {
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                lineNumber++;
                if (lineNumber < offset)
                {
                    continue;
                }

                if (shown == limit)
                {
                    more = true;
                    break;
                }

                output.Append(lineNumber.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(6)).Append('\t').Append(this.CapLine(line)).Append('\n');
                shown++;
            }
        }

        string header = shown == 0
            ? $"{path.RelativePath}: no lines from line {offset} (the file has {lineNumber} lines)."
            : $"{path.RelativePath}: lines {offset}-{offset + shown - 1}{(more ? $" (more follow; continue with offset {offset + shown})" : $" of {lineNumber}")}";
        return ToolResult.Success(header + "\n" + output);
    }
}
