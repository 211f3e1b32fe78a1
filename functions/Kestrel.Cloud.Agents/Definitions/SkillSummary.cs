namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>A skill as listed in the prompt. The body of <see cref="Path"/> is loaded on demand (<see cref="AgentDefinitionParser.ParseSkill"/>).</summary>
/// <param name="Name">The skill's name (its folder name).</param>
/// <param name="Description">When to use the skill, from its front matter.</param>
/// <param name="Path">The file relative to the agent folder: <c>skills/&lt;name&gt;/SKILL.md</c>.</param>
public sealed record SkillSummary(string Name, string Description, string Path);

/// <summary>A skill loaded in full.</summary>
/// <param name="Name">The skill's name.</param>
/// <param name="Description">When to use it.</param>
/// <param name="Body">The instructions (the markdown after the front matter).</param>
public sealed record SkillDocument(string Name, string Description, string Body);
