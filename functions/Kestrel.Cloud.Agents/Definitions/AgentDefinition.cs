using Kestrel.Cloud.Agents.Policy;

namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// A validated, immutable agent: what its AGENT.md front matter says (or the defaults), its system prompt, tool
/// guidance, heartbeat instructions, and the memory files and skills found in its folder. Built by
/// <see cref="AgentDefinitionParser"/>; see docs/agents.md for the format.
/// </summary>
public sealed class AgentDefinition
{
    internal AgentDefinition(
        string name,
        AgentFiles files,
        string version,
        string? description,
        string? provider,
        string? model,
        double? temperature,
        int? maxOutputTokens,
        IReadOnlyList<ToolPattern> tools,
        ToolPolicy policy,
        int maxIterations,
        TimeSpan toolTimeout,
        string systemPrompt,
        string? toolGuidance,
        string? heartbeat,
        IReadOnlyList<MemorySummary> memory,
        IReadOnlyList<SkillSummary> skills)
    {
        this.Name = name;
        this.Files = files;
        this.Version = version;
        this.Description = description;
        this.Provider = provider;
        this.Model = model;
        this.Temperature = temperature;
        this.MaxOutputTokens = maxOutputTokens;
        this.Tools = tools.ToArray().AsReadOnly();
        this.Policy = policy;
        this.MaxIterations = maxIterations;
        this.ToolTimeout = toolTimeout;
        this.SystemPrompt = systemPrompt;
        this.ToolGuidance = toolGuidance;
        this.Heartbeat = heartbeat;
        this.Memory = memory.ToArray().AsReadOnly();
        this.Skills = skills.ToArray().AsReadOnly();
    }

    /// <summary>The agent's name (its folder name).</summary>
    public string Name { get; }

    /// <summary>The definition files this was parsed from (AGENT.md, TOOLS.md, HEARTBEAT.md).</summary>
    public AgentFiles Files { get; }

    /// <summary>A fingerprint of <see cref="Files"/>; changes whenever one of them changes (usable as an ETag).</summary>
    public string Version { get; }

    /// <summary><c>description</c>: what the agent is for, or null.</summary>
    public string? Description { get; }

    /// <summary><c>provider</c>: the configured provider to use, or null for the default provider.</summary>
    public string? Provider { get; }

    /// <summary><c>model</c>: the model name, or null for the provider's default model.</summary>
    public string? Model { get; }

    /// <summary><c>temperature</c> (0-2), or null for the provider's default.</summary>
    public double? Temperature { get; }

    /// <summary><c>max_output_tokens</c>, or null for the provider's default.</summary>
    public int? MaxOutputTokens { get; }

    /// <summary><c>tools</c>: which of the host's tools the agent may use (default <c>*</c>, all of them).</summary>
    public IReadOnlyList<ToolPattern> Tools { get; }

    /// <summary><c>approval</c>: the agent's tool policy.</summary>
    public ToolPolicy Policy { get; }

    /// <summary><c>max_iterations</c>: model calls per turn before the turn stops (1-200, default 20).</summary>
    public int MaxIterations { get; }

    /// <summary><c>tool_timeout</c>: how long one tool call may run (1 s - 1 h, default 60 s).</summary>
    public TimeSpan ToolTimeout { get; }

    /// <summary>The body of AGENT.md, trimmed.</summary>
    public string SystemPrompt { get; }

    /// <summary>The body of TOOLS.md, trimmed, or null.</summary>
    public string? ToolGuidance { get; }

    /// <summary>The body of HEARTBEAT.md, trimmed, or null.</summary>
    public string? Heartbeat { get; }

    /// <summary>Summaries of <c>memory/*.md</c>, sorted by path.</summary>
    public IReadOnlyList<MemorySummary> Memory { get; }

    /// <summary>The skills in <c>skills/&lt;name&gt;/SKILL.md</c>, sorted by name.</summary>
    public IReadOnlyList<SkillSummary> Skills { get; }
}
