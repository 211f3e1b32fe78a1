using System.Text.RegularExpressions;

namespace Kestrel.Cloud.Agents.Policy;

/// <summary>
/// A tool name pattern as written in AGENT.md (<c>tools:</c> and <c>approval:</c>): an exact name
/// (<c>http_fetch</c>), a glob over tool names (<c>files_*</c>, <c>*</c>; <c>*</c> matches any run of
/// characters, <c>?</c> one character), or an MCP pattern <c>mcp:&lt;server&gt;/&lt;tool&gt;</c> (both parts may
/// be globs, e.g. <c>mcp:github/*</c>) that matches only tools served by that MCP server. Matching is
/// case-sensitive, as tool names are.
/// </summary>
public sealed partial class ToolPattern
{
    /// <summary>The prefix of MCP patterns.</summary>
    public const string McpPrefix = "mcp:";

    /// <summary>The longest pattern accepted, in characters.</summary>
    public const int MaxLength = 200;

    private readonly Regex? nameRegex;
    private readonly Regex? serverRegex;

    private ToolPattern(string text, Regex? nameRegex, Regex? serverRegex)
    {
        this.Text = text;
        this.nameRegex = nameRegex;
        this.serverRegex = serverRegex;
    }

    /// <summary>The pattern as written.</summary>
    public string Text { get; }

    /// <summary>True for <c>mcp:&lt;server&gt;/&lt;tool&gt;</c> patterns.</summary>
    public bool IsMcp => this.serverRegex is not null;

    /// <summary>Parses a pattern; throws <see cref="ArgumentException"/> with the reason when it is not valid.</summary>
    public static ToolPattern Parse(string text)
    {
        if (TryParse(text, out ToolPattern? pattern, out string? error))
        {
            return pattern;
        }

        throw new ArgumentException(error, nameof(text));
    }

    /// <summary>
    /// Parses a pattern. On failure <paramref name="error"/> completes the sentence
    /// "'x' is not a valid tool pattern: ..." with the rule and the fix.
    /// </summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ToolPattern? pattern, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        pattern = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "a tool pattern cannot be empty; write a tool name such as http_fetch, a glob such as files_*, or mcp:<server>/<tool>.";
            return false;
        }

        if (text.Length > MaxLength)
        {
            error = $"'{Shorten(text)}' is not a valid tool pattern: it is longer than {MaxLength} characters.";
            return false;
        }

        if (text.StartsWith(McpPrefix, StringComparison.Ordinal))
        {
            string rest = text[McpPrefix.Length..];
            int slash = rest.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                error = $"'{text}' is not a valid tool pattern: an MCP pattern names a server and a tool, such as mcp:{(rest.Length == 0 ? "github" : rest)}/* for every tool of a server.";
                return false;
            }

            string server = rest[..slash];
            string tool = rest[(slash + 1)..];
            if (!ServerGlob().IsMatch(server) || !NameGlob().IsMatch(tool))
            {
                error = $"'{text}' is not a valid tool pattern: in mcp:<server>/<tool> the server uses lowercase letters, digits, '-', '_' and the tool letters, digits, '_', '-', '.'; both may use '*' and '?'.";
                return false;
            }

            pattern = new ToolPattern(text, ToRegex(tool), ToRegex(server));
            error = null;
            return true;
        }

        if (!NameGlob().IsMatch(text))
        {
            error = $"'{text}' is not a valid tool pattern: use letters, digits, '_', '-', '.', the wildcards '*' and '?', or mcp:<server>/<tool>.";
            return false;
        }

        pattern = new ToolPattern(text, ToRegex(text), null);
        error = null;
        return true;
    }

    /// <summary>
    /// True when the pattern matches a tool. Name patterns match <paramref name="toolName"/> (the name the
    /// model sees), for built-in and MCP tools alike; MCP patterns match only tools with an
    /// <paramref name="mcpServer"/>, against <paramref name="mcpToolName"/> (or the tool name when null).
    /// </summary>
    public bool Matches(string toolName, string? mcpServer = null, string? mcpToolName = null)
    {
        if (this.serverRegex is null)
        {
            return this.nameRegex!.IsMatch(toolName);
        }

        return mcpServer is not null
            && this.serverRegex.IsMatch(mcpServer)
            && this.nameRegex!.IsMatch(mcpToolName ?? toolName);
    }

    /// <inheritdoc/>
    public override string ToString() => this.Text;

    private static Regex ToRegex(string glob)
    {
        string body = Regex.Escape(glob).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal);
        return new Regex("^" + body + "$", RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    [GeneratedRegex("^[A-Za-z0-9_.*?-]+$")]
    private static partial Regex NameGlob();

    [GeneratedRegex("^[a-z0-9_*?-]+$")]
    private static partial Regex ServerGlob();
}
