using System.Text.RegularExpressions;

namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// Agent (and skill) names: 1-64 characters of lowercase letters, digits and '-', starting with a letter or digit.
/// Such names are safe as folder names, blob name prefixes and URL path segments on every platform.
/// </summary>
public static partial class AgentName
{
    /// <summary>The longest name, in characters.</summary>
    public const int MaxLength = 64;

    /// <summary>The name of the agent created on first start.</summary>
    public const string Default = "default";

    /// <summary>True when <paramref name="name"/> is a valid agent name.</summary>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    /// <summary>Throws <see cref="ArgumentException"/> with the rule when <paramref name="name"/> is not valid.</summary>
    public static void Validate(string? name, string paramName = "name")
    {
        if (!IsValid(name))
        {
            throw new ArgumentException(Describe(name), paramName);
        }
    }

    /// <summary>The message for an invalid name: the value, the rule and an example.</summary>
    internal static string Describe(string? name) =>
        $"The agent name '{name}' is not valid: use 1-{MaxLength} lowercase letters, digits and '-', starting with a letter or digit (for example 'research-bot').";

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex Pattern();
}
