namespace Kestrel.Cloud.Agents.Turns;

/// <summary>How agent turns run (configuration section <c>KestrelCloud:Agents</c>). Validated once, all errors together.</summary>
public sealed class AgentRuntimeOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "KestrelCloud:Agents";

    /// <summary>The folder holding the agent folders (standalone, <see cref="Definitions.LocalAgentWorkspace"/>).</summary>
    /// <value>The default value is null: <c>&lt;KestrelCloud:DataPath&gt;/agents</c>.</value>
    public string? WorkspacePath { get; set; }

    /// <summary>How long a tool call that asks waits for a human; nobody answering counts as a denial.</summary>
    /// <value>The default value is 24 hours. At least 1 second, at most 30 days.</value>
    public TimeSpan ApprovalTimeout { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The largest conversation (JSON of the turn's messages) a turn passes to a model call; past it the run fails with a clear error.</summary>
    /// <value>The default value is 524,288 (512 KiB). At least 4096.</value>
    public int MaxTurnMessagesSizeBytes { get; set; } = 512 * 1024;

    /// <summary>The largest user message a run accepts, in UTF-8 bytes.</summary>
    /// <value>The default value is 65,536 (64 KiB). At least 1.</value>
    public int MaxMessageSizeBytes { get; set; } = 64 * 1024;

    /// <summary>Streamed model text is appended to the run's log at most this often (the first piece goes at once).</summary>
    /// <value>The default value is 100 ms. 0 to 10 s.</value>
    public TimeSpan DeltaBatchInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A batch of streamed text is appended as soon as it holds this many characters.</summary>
    /// <value>The default value is 512. 1 to 16,384.</value>
    public int DeltaBatchMaxChars { get; set; } = 512;

    /// <summary>Tool results are cut to this many characters in <c>tool.result</c> events (the model gets the whole result).</summary>
    /// <value>The default value is 2000. 100 to 32,768.</value>
    public int ToolResultDisplayMaxChars { get; set; } = 2000;

    /// <summary>Estimated tokens of session history above which older turns are summarised before the model call.</summary>
    /// <value>The default value is 60,000. At least 100.</value>
    public int ContextBudgetTokens { get; set; } = 60_000;

    /// <summary>How many of the latest user turns compaction keeps word for word.</summary>
    /// <value>The default value is 2. 0 to 100.</value>
    public int CompactionKeepRecentTurns { get; set; } = 2;

    /// <summary>How deep <c>spawn</c> may nest sub-agent runs (a top-level run is depth 0).</summary>
    /// <value>The default value is 2. 0 (spawn refused) to 5.</value>
    public int MaxSpawnDepth { get; set; } = 2;

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (this.ApprovalTimeout < TimeSpan.FromSeconds(1) || this.ApprovalTimeout > TimeSpan.FromDays(30))
        {
            errors.Add($"The value for ApprovalTimeout must be between 00:00:01 and 30.00:00:00; it is {this.ApprovalTimeout}.");
        }

        if (this.MaxTurnMessagesSizeBytes < 4096)
        {
            errors.Add($"The value for MaxTurnMessagesSizeBytes must be at least 4096; it is {this.MaxTurnMessagesSizeBytes}.");
        }

        if (this.MaxMessageSizeBytes < 1)
        {
            errors.Add($"The value for MaxMessageSizeBytes must be at least 1; it is {this.MaxMessageSizeBytes}.");
        }

        if (this.DeltaBatchInterval < TimeSpan.Zero || this.DeltaBatchInterval > TimeSpan.FromSeconds(10))
        {
            errors.Add($"The value for DeltaBatchInterval must be between 00:00:00 and 00:00:10; it is {this.DeltaBatchInterval}.");
        }

        if (this.DeltaBatchMaxChars < 1 || this.DeltaBatchMaxChars > 16_384)
        {
            errors.Add($"The value for DeltaBatchMaxChars must be between 1 and 16384; it is {this.DeltaBatchMaxChars}.");
        }

        if (this.ToolResultDisplayMaxChars < 100 || this.ToolResultDisplayMaxChars > 32_768)
        {
            errors.Add($"The value for ToolResultDisplayMaxChars must be between 100 and 32768; it is {this.ToolResultDisplayMaxChars}.");
        }

        if (this.ContextBudgetTokens < 100)
        {
            errors.Add($"The value for ContextBudgetTokens must be at least 100; it is {this.ContextBudgetTokens}.");
        }

        if (this.CompactionKeepRecentTurns < 0 || this.CompactionKeepRecentTurns > 100)
        {
            errors.Add($"The value for CompactionKeepRecentTurns must be between 0 and 100; it is {this.CompactionKeepRecentTurns}.");
        }

        if (this.MaxSpawnDepth < 0 || this.MaxSpawnDepth > 5)
        {
            errors.Add($"The value for MaxSpawnDepth must be between 0 and 5; it is {this.MaxSpawnDepth}.");
        }

        OptionsErrors.ThrowIfAny(nameof(AgentRuntimeOptions), errors);
    }
}
