using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Policy;

namespace Kestrel.Cloud.Agents.Tests.Definitions;

public class AgentDefinitionParserTests
{
    private const string FullAgent = """
        ---
        description: Answers questions about the weather.
        provider: openai
        model: gpt-4.1-mini
        temperature: 0.3
        max_output_tokens: 2048
        max_iterations: 12
        tool_timeout: 2m
        tools:
          - http_fetch
          - files_*
          - mcp:weather/*
        approval:
          - tool: files_write
            action: deny
          - tool: "mcp:weather/*"
            action: allow
        ---
        You are a weather assistant.

        Be brief.
        """;

    private static AgentDefinitionException ParseFails(string agentMarkdown, string name = "bot")
    {
        Action act = () => AgentDefinitionParser.Parse(name, new AgentFiles(agentMarkdown));
        return act.Should().Throw<AgentDefinitionException>().Which;
    }

    private static string Agent(string frontMatter) => $"---\n{frontMatter}\n---\nYou help.\n";

    [Fact]
    public void Parse_ValidAgent_ReadsEveryField()
    {
        AgentDefinition agent = AgentDefinitionParser.Parse("weather", new AgentFiles(FullAgent, "Use http_fetch for forecasts.", "Check the news."));

        agent.Name.Should().Be("weather");
        agent.Description.Should().Be("Answers questions about the weather.");
        agent.Provider.Should().Be("openai");
        agent.Model.Should().Be("gpt-4.1-mini");
        agent.Temperature.Should().Be(0.3);
        agent.MaxOutputTokens.Should().Be(2048);
        agent.MaxIterations.Should().Be(12);
        agent.ToolTimeout.Should().Be(TimeSpan.FromMinutes(2));
        agent.Tools.Select(t => t.Text).Should().Equal("http_fetch", "files_*", "mcp:weather/*");
        agent.Policy.Rules.Select(r => r.ToString()).Should().Equal("files_write → deny", "mcp:weather/* → allow");
        agent.SystemPrompt.Should().Be("You are a weather assistant.\n\nBe brief.");
        agent.ToolGuidance.Should().Be("Use http_fetch for forecasts.");
        agent.Heartbeat.Should().Be("Check the news.");
        agent.Version.Should().HaveLength(16);
    }

    [Fact]
    public void Parse_NoFrontMatter_UsesDefaults()
    {
        AgentDefinition agent = AgentDefinitionParser.Parse("plain", new AgentFiles("Just a prompt.\n"));

        agent.SystemPrompt.Should().Be("Just a prompt.");
        agent.Provider.Should().BeNull();
        agent.Model.Should().BeNull();
        agent.Temperature.Should().BeNull();
        agent.MaxOutputTokens.Should().BeNull();
        agent.MaxIterations.Should().Be(20);
        agent.ToolTimeout.Should().Be(TimeSpan.FromSeconds(60));
        agent.Tools.Select(t => t.Text).Should().Equal("*");
        agent.Policy.Rules.Should().BeEmpty();
    }

    [Fact]
    public void Parse_CrlfAndBom_Accepted()
    {
        AgentDefinition agent = AgentDefinitionParser.Parse("win", new AgentFiles("\uFEFF---\r\nmax_iterations: 3\r\n---\r\nHello.\r\n"));

        agent.MaxIterations.Should().Be(3);
        agent.SystemPrompt.Should().Be("Hello.");
    }

    [Fact]
    public void Parse_EmptyToolsList_GivesNoTools()
    {
        AgentDefinitionParser.Parse("bare", new AgentFiles(Agent("tools: []"))).Tools.Should().BeEmpty();
    }

    [Fact]
    public void Parse_NullValues_MeanDefaults()
    {
        AgentDefinition agent = AgentDefinitionParser.Parse("bot", new AgentFiles(Agent("model:\ntemperature: ~\nmax_iterations: null")));

        agent.Model.Should().BeNull();
        agent.Temperature.Should().BeNull();
        agent.MaxIterations.Should().Be(20);
    }

    [Theory]
    [InlineData("max_iterations: 500", "max_iterations", "AGENT.md front matter: max_iterations must be between 1 and 200 (found 500).")]
    [InlineData("max_iterations: 0", "max_iterations", "AGENT.md front matter: max_iterations must be between 1 and 200 (found 0).")]
    [InlineData("max_iterations: lots", "max_iterations", "AGENT.md front matter: max_iterations must be a whole number between 1 and 200 (found \"lots\").")]
    [InlineData("max_iterations: 2.5", "max_iterations", "AGENT.md front matter: max_iterations must be a whole number between 1 and 200 (found 2.5).")]
    [InlineData("temperature: 3.5", "temperature", "AGENT.md front matter: temperature must be between 0 and 2 (found 3.5).")]
    [InlineData("temperature: -0.1", "temperature", "AGENT.md front matter: temperature must be between 0 and 2 (found -0.1).")]
    [InlineData("temperature: warm", "temperature", "AGENT.md front matter: temperature must be a number between 0 and 2 (found \"warm\").")]
    [InlineData("max_output_tokens: 0", "max_output_tokens", "AGENT.md front matter: max_output_tokens must be between 1 and 1000000 (found 0).")]
    [InlineData("max_output_tokens: [1]", "max_output_tokens", "AGENT.md front matter: max_output_tokens must be a whole number between 1 and 1000000 (found a list).")]
    [InlineData("tool_timeout: soon", "tool_timeout", "AGENT.md front matter: tool_timeout must be a duration such as \"30s\", \"2m\" or \"1m30s\" (found \"soon\").")]
    [InlineData("tool_timeout: 2h", "tool_timeout", "AGENT.md front matter: tool_timeout must be between 1s and 1h (found \"2h\").")]
    [InlineData("tool_timeout: 500ms", "tool_timeout", "AGENT.md front matter: tool_timeout must be between 1s and 1h (found \"500ms\").")]
    [InlineData("provider: Open AI", "provider", "AGENT.md front matter: provider must be 1-64 lowercase letters, digits, '-' or '_', naming a configured provider such as openai or anthropic (found \"Open AI\").")]
    [InlineData("model: {name: x}", "model", "AGENT.md front matter: model must be text (found a mapping).")]
    [InlineData("name: other", "name", "AGENT.md front matter: name must match the agent's folder name 'bot' (found \"other\"); remove it or rename the folder.")]
    [InlineData("max_iteration: 5", "max_iteration", "AGENT.md front matter: max_iteration is not a known field; did you mean max_iterations?")]
    [InlineData("colour: blue", "colour", "AGENT.md front matter: colour is not a known field; the fields are name, description, provider, model, temperature, max_output_tokens, tools, approval, max_iterations, tool_timeout.")]
    [InlineData("tools: files_*", "tools", "AGENT.md front matter: tools must be a list of tool names or patterns, such as [\"http_fetch\", \"files_*\"] (found \"files_*\").")]
    [InlineData("tools: [\"files/x\"]", "tools[0]", "AGENT.md front matter: tools[0]: 'files/x' is not a valid tool pattern: use letters, digits, '_', '-', '.', the wildcards '*' and '?', or mcp:<server>/<tool>.")]
    [InlineData("tools: [\"mcp:github\"]", "tools[0]", "AGENT.md front matter: tools[0]: 'mcp:github' is not a valid tool pattern: an MCP pattern names a server and a tool, such as mcp:github/* for every tool of a server.")]
    [InlineData("approval: {files_*: allow}", "approval", "AGENT.md front matter: approval must be a list of rules, each with tool and action, such as '- tool: files_*' and 'action: allow' (found a mapping).")]
    [InlineData("approval:\n  - files_*", "approval[0]", "AGENT.md front matter: approval[0] must be a rule with tool and action, such as '- tool: files_*' and 'action: allow' (found \"files_*\").")]
    [InlineData("approval:\n  - tool: shell\n    action: maybe", "approval[0].action", "AGENT.md front matter: approval[0].action must be allow, deny or ask (found \"maybe\").")]
    [InlineData("approval:\n  - action: deny", "approval[0].tool", "AGENT.md front matter: approval[0].tool is required: name the tool or pattern the rule covers, such as files_* or mcp:github/*.")]
    [InlineData("approval:\n  - tool: shell", "approval[0].action", "AGENT.md front matter: approval[0].action is required: allow, deny or ask.")]
    [InlineData("approval:\n  - tool: shell\n    action: ask\n    when: always", "approval[0].when", "AGENT.md front matter: approval[0] has an unknown field 'when'; a rule has only tool and action.")]
    [InlineData("approval:\n  - tool: \"a b\"\n    action: ask", "approval[0].tool", "AGENT.md front matter: approval[0].tool: 'a b' is not a valid tool pattern: use letters, digits, '_', '-', '.', the wildcards '*' and '?', or mcp:<server>/<tool>.")]
    public void Parse_InvalidField_ReportsFileFieldAndExactMessage(string frontMatter, string field, string expected)
    {
        AgentDefinitionException ex = ParseFails(Agent(frontMatter));

        ex.Errors.Should().ContainSingle();
        ex.Errors[0].File.Should().Be("AGENT.md");
        ex.Errors[0].Field.Should().Be(field);
        ex.Errors[0].ToString().Should().Be(expected);
        ex.Message.Should().Be($"The agent 'bot' has 1 problem:{Environment.NewLine}- {expected}");
    }

    [Fact]
    public void Parse_DescriptionTooLong_ReportsLength()
    {
        AgentDefinitionException ex = ParseFails(Agent("description: " + new string('x', 1025)));

        ex.Errors.Single().ToString().Should().Be("AGENT.md front matter: description must be at most 1024 characters (found 1025).");
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsAllTogetherInFileOrder()
    {
        AgentDefinitionException ex = ParseFails("---\nmax_iterations: 500\ntemperature: 9\ntools: [\"bad pattern\"]\n---\n   \n");

        ex.Errors.Select(e => e.ToString()).Should().Equal(
            "AGENT.md front matter: max_iterations must be between 1 and 200 (found 500).",
            "AGENT.md front matter: temperature must be between 0 and 2 (found 9).",
            "AGENT.md front matter: tools[0]: 'bad pattern' is not a valid tool pattern: use letters, digits, '_', '-', '.', the wildcards '*' and '?', or mcp:<server>/<tool>.",
            "AGENT.md body: the system prompt is empty; write the agent's instructions below the front matter.");
        ex.Message.Should().StartWith("The agent 'bot' has 4 problems:");
    }

    [Fact]
    public void Parse_UnclosedFrontMatter_ReportsIt()
    {
        ParseFails("---\nmodel: x\nYou help.\n").Errors.Single().ToString()
            .Should().Be("AGENT.md front matter: the front matter that starts on line 1 has no closing '---' line.");
    }

    [Fact]
    public void Parse_YamlSyntaxError_ReportsLineInTheFile()
    {
        AgentDefinitionError error = ParseFails("---\nmodel: gpt\ntools: [a, b\n---\nYou help.\n").Errors.Single();

        error.Location.Should().Be("front matter");
        error.ToString().Should().StartWith("AGENT.md front matter: the YAML is not valid at line ");
        error.Message.Should().MatchRegex("at line [34], column");
    }

    [Fact]
    public void Parse_DuplicateKey_Reported()
    {
        ParseFails(Agent("model: a\nmodel: b")).Errors.Single().ToString()
            .Should().StartWith("AGENT.md front matter: the YAML is not valid at line 3");
    }

    [Fact]
    public void Parse_FrontMatterIsAList_ReportsShape()
    {
        ParseFails("---\n- a\n- b\n---\nYou help.\n").Errors.Single().ToString()
            .Should().Be("AGENT.md front matter: the front matter must be fields such as 'model: gpt-4.1', one per line (found a list).");
    }

    [Fact]
    public void Parse_OversizedFiles_ReportSizeAndLimit()
    {
        string huge = "---\n---\n" + new string('x', 262_145);
        AgentDefinitionException ex = Assert.Throws<AgentDefinitionException>(() =>
            AgentDefinitionParser.Parse("bot", new AgentFiles(huge, new string('t', 65_537))));

        ex.Errors.Select(e => e.ToString()).Should().Equal(
            "AGENT.md: the file is 262,153 bytes; the limit is 262,144 bytes.",
            "TOOLS.md: the file is 65,537 bytes; the limit is 65,536 bytes.");
    }

    [Theory]
    [InlineData("Bot")]
    [InlineData("-bot")]
    [InlineData("my_bot")]
    [InlineData("")]
    [InlineData("../etc")]
    public void Parse_InvalidName_ThrowsArgumentExceptionWithRule(string name)
    {
        Action act = () => AgentDefinitionParser.Parse(name, new AgentFiles("Hi."));

        act.Should().Throw<ArgumentException>().WithMessage($"The agent name '{name}' is not valid: use 1-64 lowercase letters, digits and '-', starting with a letter or digit (for example 'research-bot').*");
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("research-bot-2", true)]
    [InlineData("0day", true)]
    [InlineData("a234567890123456789012345678901234567890123456789012345678901234", true)]
    [InlineData("a2345678901234567890123456789012345678901234567890123456789012345", false)]
    [InlineData("a.b", false)]
    [InlineData("a b", false)]
    [InlineData("ä", false)]
    public void AgentName_IsValid_FollowsTheRule(string name, bool valid)
    {
        AgentName.IsValid(name).Should().Be(valid);
    }

    [Fact]
    public void Parse_Skills_ListedByNameAndDescription()
    {
        var skills = new[]
        {
            new SkillSource("web-research", "---\nname: web-research\ndescription: Research a topic on the web.\nlicense: MIT\n---\nStep 1: search.\n"),
            new SkillSource("code-review", "---\nname: code-review\ndescription: Review a diff.\n---\nLook for bugs.\n"),
        };

        AgentDefinition agent = AgentDefinitionParser.Parse("bot", new AgentFiles("Hi."), skills: skills);

        agent.Skills.Should().Equal(
            new SkillSummary("code-review", "Review a diff.", "skills/code-review/SKILL.md"),
            new SkillSummary("web-research", "Research a topic on the web.", "skills/web-research/SKILL.md"));
    }

    [Fact]
    public void Parse_InvalidSkills_ReportedWithTheirFiles()
    {
        var skills = new[]
        {
            new SkillSource("alpha", "---\nname: beta\n---\nBody"),
            new SkillSource("gamma", "No front matter."),
            new SkillSource("Bad_Name", "---\nname: x\ndescription: y\n---\n"),
            new SkillSource("delta", null),
        };

        AgentDefinitionException ex = Assert.Throws<AgentDefinitionException>(() =>
            AgentDefinitionParser.Parse("bot", new AgentFiles(Agent("max_iterations: 999")), skills: skills));

        ex.Errors.Select(e => e.ToString()).Should().Equal(
            "AGENT.md front matter: max_iterations must be between 1 and 200 (found 999).",
            "skills/Bad_Name/SKILL.md: the skill folder name 'Bad_Name' is not valid: use 1-64 lowercase letters, digits and '-', starting with a letter or digit.",
            "skills/alpha/SKILL.md front matter: name must match the skill's folder name 'alpha' (found \"beta\").",
            "skills/alpha/SKILL.md front matter: description is required: say what the skill does and when to use it.",
            "skills/delta/SKILL.md: the file is missing; every folder under skills/ needs a SKILL.md with name and description in its front matter.",
            "skills/gamma/SKILL.md front matter: the front matter is missing; start the file with '---', then 'name:' and 'description:' lines, then '---'.");
    }

    [Fact]
    public void ParseSkill_ValidSkill_ReturnsBody()
    {
        SkillDocument skill = AgentDefinitionParser.ParseSkill("bot", "web", "---\nname: web\ndescription: Browse.\n---\n\n# Steps\nSearch first.\n");

        skill.Should().Be(new SkillDocument("web", "Browse.", "# Steps\nSearch first."));
    }

    [Fact]
    public void MemorySummary_FromHead_TakesFirstHeadingOrLineAndCapsIt()
    {
        MemorySummary.FromHead("memory/a.md", "\n\n## User preferences\nLikes tea.", 40).Summary.Should().Be("User preferences");
        MemorySummary.FromHead("memory/b.md", "Likes tea.\nMore.", 17).Summary.Should().Be("Likes tea.");
        MemorySummary.FromHead("memory/c.md", "---\ntitle: x\n---\n# Heading after front matter", 10).Summary.Should().Be("Heading after front matter");
        string capped = MemorySummary.FromHead("memory/d.md", new string('a', 500), 500).Summary;
        capped.Should().HaveLength(120).And.EndWith("…");
    }

    [Fact]
    public void ComputeVersion_ChangesWithAnyFile()
    {
        string a = AgentDefinitionParser.ComputeVersion(new AgentFiles("x"));
        AgentDefinitionParser.ComputeVersion(new AgentFiles("x")).Should().Be(a);
        AgentDefinitionParser.ComputeVersion(new AgentFiles("y")).Should().NotBe(a);
        AgentDefinitionParser.ComputeVersion(new AgentFiles("x", "")).Should().NotBe(a);
        AgentDefinitionParser.ComputeVersion(new AgentFiles("x", null, "h")).Should().NotBe(a);
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("2m", 120)]
    [InlineData("1m30s", 90)]
    [InlineData("1h", 3600)]
    [InlineData("45", 45)]
    [InlineData("1500ms", 1.5)]
    public void Durations_TryParse_ReadsSupportedForms(string text, double seconds)
    {
        Durations.TryParse(text, out TimeSpan value).Should().BeTrue();
        value.Should().Be(TimeSpan.FromSeconds(seconds));
    }

    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("1d")]
    [InlineData("1h30")]
    [InlineData("-5s")]
    [InlineData("1.5m")]
    public void Durations_TryParse_RejectsOtherForms(string text)
    {
        Durations.TryParse(text, out _).Should().BeFalse();
    }
}
