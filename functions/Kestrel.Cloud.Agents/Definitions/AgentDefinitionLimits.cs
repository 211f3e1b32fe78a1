namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>Defaults and limits of the agent folder format (docs/agents.md lists them).</summary>
public static class AgentDefinitionLimits
{
    /// <summary>Default of <c>max_iterations</c>.</summary>
    public const int DefaultMaxIterations = 20;

    /// <summary>Smallest <c>max_iterations</c>.</summary>
    public const int MinIterations = 1;

    /// <summary>Largest <c>max_iterations</c>.</summary>
    public const int MaxIterations = 200;

    /// <summary>Default of <c>tool_timeout</c>.</summary>
    public static readonly TimeSpan DefaultToolTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Smallest <c>tool_timeout</c>.</summary>
    public static readonly TimeSpan MinToolTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Largest <c>tool_timeout</c>.</summary>
    public static readonly TimeSpan MaxToolTimeout = TimeSpan.FromHours(1);

    /// <summary>Largest <c>temperature</c> (the smallest is 0).</summary>
    public const double MaxTemperature = 2.0;

    /// <summary>Largest <c>max_output_tokens</c> (the smallest is 1).</summary>
    public const int MaxOutputTokens = 1_000_000;

    /// <summary>Longest <c>description</c>, in characters (agents and skills).</summary>
    public const int MaxDescriptionLength = 1024;

    /// <summary>Longest <c>model</c>, in characters.</summary>
    public const int MaxModelLength = 200;

    /// <summary>Most entries in <c>tools</c> and in <c>approval</c>.</summary>
    public const int MaxListEntries = 200;

    /// <summary>Largest AGENT.md, in bytes.</summary>
    public const int MaxAgentFileSizeBytes = 262_144;

    /// <summary>Largest TOOLS.md or HEARTBEAT.md, in bytes.</summary>
    public const int MaxAuxiliaryFileSizeBytes = 65_536;

    /// <summary>Largest SKILL.md, in bytes.</summary>
    public const int MaxSkillFileSizeBytes = 262_144;

    /// <summary>Largest file read on demand from an agent folder (memory, skills), in bytes.</summary>
    public const int MaxReadFileSizeBytes = 1_048_576;

    /// <summary>Most memory files summarised (sorted by name; the rest are not listed).</summary>
    public const int MaxMemoryFiles = 100;

    /// <summary>Most skills listed (sorted by name; the rest are not listed).</summary>
    public const int MaxSkills = 100;

    /// <summary>Longest memory summary, in characters.</summary>
    public const int MaxSummaryLength = 120;

    /// <summary>How much of a memory file is read to summarise it, in bytes.</summary>
    public const int MemoryHeadBytes = 4096;
}
