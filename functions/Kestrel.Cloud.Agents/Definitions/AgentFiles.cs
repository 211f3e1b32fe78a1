namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// The definition files of an agent as text: what create and update take and what a definition was read from.
/// Memory, skills and the agent's <c>files/</c> are separate and are not replaced by an update.
/// </summary>
/// <param name="AgentMarkdown">AGENT.md: YAML front matter and the system prompt.</param>
/// <param name="ToolsMarkdown">TOOLS.md (tool guidance appended to the prompt), or null when the agent has none.</param>
/// <param name="HeartbeatMarkdown">HEARTBEAT.md (what to do on a heartbeat), or null when the agent has none.</param>
public sealed record AgentFiles(string AgentMarkdown, string? ToolsMarkdown = null, string? HeartbeatMarkdown = null);
