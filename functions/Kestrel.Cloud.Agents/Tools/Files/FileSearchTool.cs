using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary>
/// <c>files_search</c>: finds lines containing a substring (or matching a regular expression) in the workspace's
/// text files. Bounded: files scanned, file size, results and regex time are capped; links are not followed.
/// </summary>
public sealed class FileSearchTool : FileToolBase
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "files_search";

    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {
          "type": "object",
          "properties": {
            "query": { "type": "string", "description": "Text to look for (or a .NET regular expression when regex is true)." },
            "regex": { "type": "boolean", "description": "Treat query as a regular expression. Default false." },
            "case_sensitive": { "type": "boolean", "description": "Match case exactly. Default false." },
            "path": { "type": "string", "description": "Folder (or file) to search, relative to the workspace root. Default '.'." }
          },
          "required": ["query"],
          "additionalProperties": false
        }
        """);

    /// <summary>Creates the tool.</summary>
    public FileSearchTool(IOptions<FileToolOptions>? options = null)
        : base(options)
    {
    }

    /// <inheritdoc/>
    public override string Name => ToolName;

    /// <inheritdoc/>
    public override string Description => "Search the text files in your workspace for lines containing a text (or matching a regular expression). Returns 'path:line: text' for each match.";

    /// <inheritdoc/>
    public override JsonElement ParametersSchema => Schema;

    /// <inheritdoc/>
    public override bool IsReadOnly => true;

    /// <inheritdoc/>
    protected override async Task<ToolResult> InvokeCoreAsync(JsonElement arguments, WorkspacePathGuard guard, CancellationToken cancellationToken)
    {
        string query = ToolArguments.GetRequiredString(arguments, "query");
        bool isRegex = ToolArguments.GetBoolean(arguments, "regex") ?? false;
        bool caseSensitive = ToolArguments.GetBoolean(arguments, "case_sensitive") ?? false;
        WorkspacePath path = guard.Resolve(ToolArguments.GetString(arguments, "path") ?? ".");
        if (query.Length == 0)
        {
            throw new ToolException("query is empty; give the text to look for.");
        }

        Func<string, bool> matches;
        if (isRegex)
        {
            Regex regex;
            try
            {
                regex = new Regex(query, (caseSensitive ? RegexOptions.None : RegexOptions.IgnoreCase) | RegexOptions.CultureInvariant, this.Options.RegexMatchTimeout);
            }
            catch (ArgumentException ex)
            {
                throw new ToolException($"The regular expression is not valid: {ex.Message}");
            }

            matches = regex.IsMatch;
        }
        else
        {
            StringComparison comparison = caseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
            matches = line => line.Contains(query, comparison);
        }

        List<string> files;
        if (File.Exists(path.FullPath))
        {
            files = new List<string> { path.FullPath };
        }
        else if (Directory.Exists(path.FullPath))
        {
            var enumeration = new EnumerationOptions
            {
                RecurseSubdirectories = true,
                IgnoreInaccessible = true,
                AttributesToSkip = FileAttributes.ReparsePoint,
                MaxRecursionDepth = 32,
            };
            files = Directory.EnumerateFiles(path.FullPath, "*", enumeration).Take(this.Options.MaxSearchFiles + 1).ToList();
            files.Sort(StringComparer.Ordinal);
        }
        else
        {
            throw new ToolException($"'{path.RelativePath}' does not exist.");
        }

        var results = new List<string>();
        string? stoppedBecause = null;
        if (files.Count > this.Options.MaxSearchFiles)
        {
            files.RemoveAt(files.Count - 1);
            stoppedBecause = $"only the first {this.Options.MaxSearchFiles:N0} files were searched; search a sub-folder for more";
        }

        int skipped = 0;
        try
        {
            foreach (string file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var info = new FileInfo(file);
                if (info.LinkTarget is not null || info.Length > this.Options.MaxSearchFileSizeBytes || LooksBinary(file))
                {
                    skipped++;
                    continue;
                }

                string relative = guard.ToRelative(file);
                int lineNumber = 0;
                using var reader = new StreamReader(file, Utf8, detectEncodingFromByteOrderMarks: true);
                while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
                {
                    lineNumber++;
                    if (!matches(line))
                    {
                        continue;
                    }

                    if (results.Count == this.Options.MaxSearchResults)
                    {
                        stoppedBecause = $"stopped at {this.Options.MaxSearchResults} matches; narrow the query or the path";
                        break;
                    }

                    results.Add($"{relative}:{lineNumber}: {this.CapLine(line.Trim())}");
                }

                if (stoppedBecause is not null && results.Count == this.Options.MaxSearchResults)
                {
                    break;
                }
            }
        }
        catch (RegexMatchTimeoutException)
        {
            stoppedBecause = "the regular expression took too long and the search was stopped; simplify it";
        }

        var text = new StringBuilder();
        text.Append(results.Count == 0 ? $"No matches for \"{query}\"" : $"{results.Count} matches for \"{query}\"");
        text.Append(skipped > 0 ? $" ({skipped} binary, linked or large files skipped)" : string.Empty);
        text.Append(stoppedBecause is null ? "." : $"; {stoppedBecause}.");
        foreach (string result in results)
        {
            text.Append('\n').Append(result);
        }

        return ToolResult.Success(text.ToString());
    }
}
