using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary><c>files_list</c>: lists a folder of the workspace (optionally recursively); folders end with '/', links are shown but not followed.</summary>
public sealed class FileListTool : FileToolBase
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "files_list";

    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {
          "type": "object",
          "properties": {
            "path": { "type": "string", "description": "Folder relative to the workspace root. Default '.', the root." },
            "recursive": { "type": "boolean", "description": "Also list sub-folders. Default false." }
          },
          "additionalProperties": false
        }
        """);

    /// <summary>Creates the tool.</summary>
    public FileListTool(IOptions<FileToolOptions>? options = null)
        : base(options)
    {
    }

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "List the files and folders in your workspace. Folders end with '/'; files show their size.";

    /// <inheritdoc/>
    public override JsonElement ParametersSchema => Schema;

    /// <inheritdoc/>
    public override bool IsReadOnly => true;

    /// <inheritdoc/>
    protected override Task<ToolResult> InvokeCoreAsync(JsonElement arguments, WorkspacePathGuard guard, CancellationToken cancellationToken)
    {
        WorkspacePath path = guard.Resolve(ToolArguments.GetString(arguments, "path") ?? ".");
        bool recursive = ToolArguments.GetBoolean(arguments, "recursive") ?? false;
        if (File.Exists(path.FullPath))
        {
            throw new ToolException($"'{path.RelativePath}' is a file; use files_read to read it.");
        }

        if (!Directory.Exists(path.FullPath))
        {
            throw new ToolException($"The folder '{path.RelativePath}' does not exist.");
        }

        var lines = new List<string>();
        bool stopped = false;
        void Walk(string directory, string prefix)
        {
            IEnumerable<FileSystemInfo> entries = new DirectoryInfo(directory).EnumerateFileSystemInfos()
                .OrderBy(e => e.Name, StringComparer.Ordinal);
            foreach (FileSystemInfo entry in entries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (lines.Count >= this.Options.MaxListEntries)
                {
                    stopped = true;
                    return;
                }

                string name = prefix + entry.Name;
                if (entry.LinkTarget is not null)
                {
                    lines.Add($"{name} -> (symbolic link)");
                }
                else if (entry is DirectoryInfo sub)
                {
                    lines.Add(name + "/");
                    if (recursive)
                    {
                        Walk(sub.FullName, name + "/");
                        if (stopped)
                        {
                            return;
                        }
                    }
                }
                else
                {
                    lines.Add($"{name} ({((FileInfo)entry).Length:N0} bytes)");
                }
            }
        }

        Walk(path.FullPath, path.RelativePath == "." ? string.Empty : path.RelativePath + "/");
        var text = new StringBuilder();
        text.Append(path.RelativePath == "." ? "Workspace root" : path.RelativePath).Append(": ");
        text.Append(lines.Count == 0 ? "empty." : $"{lines.Count} entries{(stopped ? $" (stopped at the limit of {this.Options.MaxListEntries}; list a sub-folder for more)" : string.Empty)}.");
        foreach (string line in lines)
        {
            text.Append('\n').Append(line);
        }

        return Task.FromResult(ToolResult.Success(text.ToString()));
    }
}
