namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>One problem in an agent folder, pointing at the file and (for front matter) the field.</summary>
/// <param name="File">The file, relative to the agent folder, e.g. <c>AGENT.md</c> or <c>skills/web/SKILL.md</c>.</param>
/// <param name="Location">Where in the file: <c>front matter</c>, <c>body</c>, or empty for the file as a whole.</param>
/// <param name="Field">The front-matter field, e.g. <c>max_iterations</c> or <c>approval[1].action</c>; null when not about a field.</param>
/// <param name="Message">The problem, the rule and the fix, e.g. "max_iterations must be between 1 and 200 (found 500)."</param>
public sealed record AgentDefinitionError(string File, string Location, string? Field, string Message)
{
    /// <summary>The location of front-matter problems.</summary>
    public const string FrontMatter = "front matter";

    /// <summary>The location of problems in the markdown body.</summary>
    public const string Body = "body";

    /// <summary>The error as shown to people: "AGENT.md front matter: max_iterations must be between 1 and 200 (found 500)."</summary>
    public override string ToString() => this.Location.Length == 0 ? $"{this.File}: {this.Message}" : $"{this.File} {this.Location}: {this.Message}";
}
