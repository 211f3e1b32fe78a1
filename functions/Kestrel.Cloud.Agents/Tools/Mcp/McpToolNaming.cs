using System.Security.Cryptography;
using System.Text;

namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// The names models see for MCP tools: <c>&lt;server&gt;__&lt;tool&gt;</c>, within what OpenAI and Anthropic accept
/// (1-64 of letters, digits, '_' and '-'). Characters outside that set become '_'; a name that is too long, or that
/// collides with another tool of the same server after this, is shortened and ends with '_' and 6 hex digits of a
/// hash of the original name, so it stays stable across restarts.
/// </summary>
public static class McpToolNaming
{
    /// <summary>What separates the server name from the tool name.</summary>
    public const string Separator = "__";

    /// <summary>The longest tool name a model accepts.</summary>
    public const int MaxNameLength = 64;

    /// <summary>True when <c>&lt;server&gt;__&lt;tool&gt;</c> is already a valid name.</summary>
    public static bool NeedsNoChange(string server, string toolName)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(toolName);
        return toolName.Length > 0
            && server.Length + Separator.Length + toolName.Length <= MaxNameLength
            && toolName.All(c => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-');
    }

    /// <summary>
    /// The model-facing name for <paramref name="toolName"/> on <paramref name="server"/>, given the names already
    /// taken. Assign names that need no change first (<see cref="NeedsNoChange"/>), so a tool called <c>a_b</c> keeps its
    /// name when another is called <c>a.b</c>.
    /// </summary>
    public static string ToModelName(string server, string toolName, ISet<string>? taken = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(server);
        ArgumentNullException.ThrowIfNull(toolName);
        var sanitized = new StringBuilder(toolName.Length);
        foreach (char c in toolName)
        {
            sanitized.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-' ? c : '_');
        }

        string prefix = server + Separator;
        string name = prefix + (sanitized.Length == 0 ? "tool" : sanitized.ToString());
        if (name.Length <= MaxNameLength && (taken is null || !taken.Contains(name)))
        {
            return name;
        }

        // Too long or taken: keep a readable head and make it unique with a hash of the original tool name.
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(toolName)))[..6].ToLowerInvariant();
        int room = MaxNameLength - prefix.Length - hash.Length - 1;
        string head = sanitized.Length > room ? sanitized.ToString(0, Math.Max(room, 0)) : sanitized.ToString();
        return prefix + head + "_" + hash;
    }
}
