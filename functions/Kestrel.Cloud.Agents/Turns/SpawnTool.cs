using System.Text.Json;
using Kestrel.Cloud.Agents.Tools;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>
/// <c>spawn</c>: runs a sub-agent on a task and returns its final answer. Declared to models like any tool, but never
/// invoked through <see cref="InvokeAsync"/>: the turn orchestration runs it as a sub-orchestration (an <c>AgentTurn</c>
/// with run id <c>{parent}.s{n}</c>, its own conversation, and the parent's approval policy and approval handling).
/// It changes nothing itself (every call the sub-agent makes goes through the policy), so it counts as read-only.
/// </summary>
public sealed class SpawnTool : IAgentTool
{
    /// <summary>The tool name.</summary>
    public const string ToolName = "spawn";

    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "task": { "type": "string", "description": "What the sub-agent should do, with everything it needs to know: it does not see this conversation." },
            "agent": { "type": "string", "description": "The agent to run (default: the calling agent)." }
          },
          "required": ["task"]
        }
        """).RootElement.Clone();

    /// <inheritdoc/>
    public string Name => ToolName;

    /// <inheritdoc/>
    public string Description =>
        "Runs a sub-agent on a self-contained task and returns its final answer. Use it for work that can be done separately; the sub-agent starts with an empty conversation.";

    /// <inheritdoc/>
    public JsonElement ParametersSchema => Schema;

    /// <inheritdoc/>
    public bool IsReadOnly => true;

    /// <inheritdoc/>
    public Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken) =>
        Task.FromResult(ToolResult.Error("spawn runs only inside an agent turn, which starts the sub-agent as a sub-orchestration."));

    /// <summary>Reads the arguments: the task (required) and the agent (optional).</summary>
    public static (string? Task, string? Agent, string? Error) ParseArguments(string argumentsJson)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(argumentsJson) ? "{}" : argumentsJson);
            string? task = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("task", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            string? agent = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("agent", out JsonElement a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            if (string.IsNullOrWhiteSpace(task))
            {
                return (null, null, "The argument 'task' is required: say what the sub-agent should do.");
            }

            if (agent is not null && !Definitions.AgentName.IsValid(agent))
            {
                return (null, null, Definitions.AgentName.Describe(agent));
            }

            return (task, string.IsNullOrWhiteSpace(agent) ? null : agent, null);
        }
        catch (JsonException ex)
        {
            return (null, null, $"The arguments are not valid JSON: {ex.Message}");
        }
    }
}
