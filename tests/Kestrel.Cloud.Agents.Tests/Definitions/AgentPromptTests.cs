using Kestrel.Cloud.Agents.Definitions;

namespace Kestrel.Cloud.Agents.Tests.Definitions;

public class AgentPromptTests
{
    [Fact]
    public void Compose_FullAgent_AppendsGuidanceSkillsAndMemoryIndex()
    {
        AgentDefinition agent = AgentDefinitionParser.Parse(
            "bot",
            new AgentFiles("You help.", "Prefer files_search."),
            new[] { new MemorySummary("memory/prefs.md", "Preferences", 10) },
            new[] { new SkillSource("web", "---\nname: web\ndescription: Browse the web.\n---\nSecret body.") });

        AgentPrompt.Compose(agent).Should().Be(
            "You help.\n\n## Tool guidance\n\nPrefer files_search.\n\n## Skills\n\nRead a skill's file before using it.\n\n- web (skills/web/SKILL.md): Browse the web.\n\n## Memory files\n\nRead a file for its full text.\n\n- memory/prefs.md: Preferences");
    }

    [Fact]
    public void Compose_PromptOnly_IsTheBody()
    {
        AgentPrompt.Compose(AgentDefinitionParser.Parse("bot", new AgentFiles("---\n---\nJust this.\n"))).Should().Be("Just this.");
    }
}
