using System.Text;

namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// Builds the system prompt a turn starts with: the AGENT.md body, then TOOLS.md, then an index of skills (name
/// and description) and of memory files (path and summary). Skill bodies and memory text are not included; the
/// model reads them on demand.
/// </summary>
public static class AgentPrompt
{
    /// <summary>The composed system prompt for <paramref name="agent"/>.</summary>
    public static string Compose(AgentDefinition agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        var prompt = new StringBuilder(agent.SystemPrompt);
        if (agent.ToolGuidance is { } guidance)
        {
            prompt.Append("\n\n## Tool guidance\n\n").Append(guidance);
        }

        if (agent.Skills.Count > 0)
        {
            prompt.Append("\n\n## Skills\n\nRead a skill's file before using it.\n");
            foreach (SkillSummary skill in agent.Skills)
            {
                prompt.Append("\n- ").Append(skill.Name).Append(" (").Append(skill.Path).Append("): ").Append(skill.Description);
            }
        }

        if (agent.Memory.Count > 0)
        {
            prompt.Append("\n\n## Memory files\n\nRead a file for its full text.\n");
            foreach (MemorySummary memory in agent.Memory)
            {
                prompt.Append("\n- ").Append(memory.Path).Append(": ").Append(memory.Summary);
            }
        }

        return prompt.ToString();
    }
}
