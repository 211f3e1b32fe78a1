using System.Text.Json;
using Kestrel.Cloud.Agents.Providers.Usage;
using Kestrel.Cloud.Agents.Runs;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>The names of the turn orchestration, its activities and its events.</summary>
public static class AgentTurnNames
{
    /// <summary>The orchestration.</summary>
    public const string Orchestration = "AgentTurn";

    /// <summary>Loads the agent, its prompt and the session history; appends <c>run.started</c>.</summary>
    public const string LoadContext = "AgentTurn.LoadContext";

    /// <summary>Summarises older session history when it is over the context budget.</summary>
    public const string CompactSession = "AgentTurn.CompactSession";

    /// <summary>Streams one model call; appends text deltas, tool call requests (with the policy's decision) and usage.</summary>
    public const string CallModel = "AgentTurn.CallModel";

    /// <summary>Runs one tool call with the agent's tool timeout; appends <c>tool.result</c>.</summary>
    public const string RunTool = "AgentTurn.RunTool";

    /// <summary>Appends <c>approval.requested</c> with signed links.</summary>
    public const string RequestApprovals = "AgentTurn.RequestApprovals";

    /// <summary>Appends events the orchestration built (decisions, denied results).</summary>
    public const string AppendEvents = "AgentTurn.AppendEvents";

    /// <summary>Appends the turn's messages to the session (idempotent per run).</summary>
    public const string SaveSession = "AgentTurn.SaveSession";

    /// <summary>Appends <c>run.finished</c>.</summary>
    public const string Finish = "AgentTurn.Finish";

    /// <summary>The event that cancels a run (payload <see cref="CancelRequest"/>).</summary>
    public const string CancelEvent = "cancel";

    /// <summary>The event carrying a decision (<see cref="ApprovalDecision"/>) on tool call <paramref name="callId"/>.</summary>
    public static string ApprovalEvent(string callId) => "approval:" + callId;
}

/// <summary>The payload of the cancel event.</summary>
public sealed record CancelRequest(string? Reason);

/// <summary>The input of an <c>AgentTurn</c>.</summary>
/// <param name="RunId">The run (= instance) id.</param>
/// <param name="Agent">The agent.</param>
/// <param name="Message">The user's message (for a sub-agent: its task).</param>
/// <param name="SessionKey">The session; null for sub-agent runs, which keep no session.</param>
/// <param name="ParentRunId">The run that spawned this one.</param>
/// <param name="Depth">0 for a top-level run, parent + 1 for a sub-agent.</param>
/// <param name="PolicyAgent">The agent whose approval policy decides tool calls; null for <paramref name="Agent"/>.</param>
/// <param name="MirrorRunIds">Ancestor runs whose logs also receive this run's approval events.</param>
public sealed record TurnInput(
    string RunId,
    string Agent,
    string Message,
    string? SessionKey,
    string? ParentRunId = null,
    int Depth = 0,
    string? PolicyAgent = null,
    IReadOnlyList<string>? MirrorRunIds = null);

/// <summary>The output of an <c>AgentTurn</c>.</summary>
/// <param name="Status"><c>completed</c>, <c>failed</c> or <c>cancelled</c>.</param>
/// <param name="FinalText">The answer; for a cancelled run, the text produced until then.</param>
/// <param name="Error">Why the run failed.</param>
/// <param name="Usage">Tokens and cost of every model call of the run (sub-agents included).</param>
/// <param name="Iterations">Model calls made.</param>
/// <param name="IterationLimitReached">True when the run stopped at the agent's <c>max_iterations</c>.</param>
public sealed record TurnResult(string Status, string? FinalText, string? Error, ProviderUsage Usage, int Iterations, bool IterationLimitReached);

/// <summary>The custom status of a live turn: what <c>GetAsync</c> shows.</summary>
public sealed record TurnStatus(string Phase, int Step, ProviderUsage Usage, IReadOnlyList<TurnPendingApproval> PendingApprovals, IReadOnlyList<string> ActiveChildren);

/// <summary>A call waiting for a decision, as kept in the custom status.</summary>
public sealed record TurnPendingApproval(string CallId, string Tool, JsonElement Arguments, DateTimeOffset ExpiresAt);

/// <summary>One message of a turn's conversation in a form the engine serializes exactly.</summary>
/// <param name="Role"><c>system</c> (a summary of older history), <c>user</c>, <c>assistant</c> or <c>tool</c>.</param>
/// <param name="Text">The text (for <c>tool</c>: the result).</param>
/// <param name="ToolCalls">The calls an assistant message asks for.</param>
/// <param name="CallId">For <c>tool</c>: the call answered.</param>
/// <param name="IsError">For <c>tool</c>: the result is an error (denial, timeout, failure).</param>
public sealed record TurnMessage(string Role, string? Text = null, IReadOnlyList<TurnToolCall>? ToolCalls = null, string? CallId = null, bool IsError = false);

/// <summary>A tool call in an assistant message.</summary>
public sealed record TurnToolCall(string CallId, string Name, string ArgumentsJson);

/// <summary>The input of LoadContext.</summary>
public sealed record LoadContextInput(TurnInput Turn);

/// <summary>What LoadContext found.</summary>
public sealed record TurnContext(
    string SystemPrompt,
    IReadOnlyList<TurnMessage> History,
    int MaxIterations,
    TimeSpan ToolTimeout,
    TimeSpan ApprovalTimeout,
    bool NeedsCompaction,
    int MaxSpawnDepth,
    int MaxTurnMessagesSizeBytes,
    int ToolResultDisplayMaxChars);

/// <summary>The input of CompactSession.</summary>
public sealed record CompactSessionInput(string RunId, string Agent, string SessionKey);

/// <summary>The session history after compaction and what the summary call used.</summary>
public sealed record CompactSessionResult(IReadOnlyList<TurnMessage> History, ProviderUsage Usage);

/// <summary>The input of CallModel.</summary>
public sealed record CallModelInput(string RunId, string Agent, string? PolicyAgent, int Step, string SystemPrompt, IReadOnlyList<TurnMessage> Messages, ProviderUsage UsageSoFar);

/// <summary>A tool call the model asked for, with the policy's decision.</summary>
/// <param name="CallId">The model's call id.</param>
/// <param name="Tool">The tool name.</param>
/// <param name="ArgumentsJson">The arguments (a JSON object).</param>
/// <param name="Decision"><c>allow</c>, <c>deny</c> or <c>ask</c>.</param>
/// <param name="Reason">Why.</param>
/// <param name="IsReadOnly">True when this call changes nothing (may run in parallel).</param>
/// <param name="IsSpawn">True for <c>spawn</c>: run as a sub-orchestration.</param>
public sealed record ToolCallPlan(string CallId, string Tool, string ArgumentsJson, string Decision, string Reason, bool IsReadOnly, bool IsSpawn);

/// <summary>What one model call answered (the call's own usage and model are in its <c>usage</c> event).</summary>
public sealed record CallModelResult(string Text, IReadOnlyList<ToolCallPlan> ToolCalls, ProviderUsage TotalUsage);

/// <summary>The input of RunTool.</summary>
public sealed record RunToolInput(string RunId, string Agent, int Step, string CallId, string Tool, string ArgumentsJson, TimeSpan Timeout);

/// <summary>A tool call's result for the model.</summary>
public sealed record RunToolResult(string Text, bool IsError, bool IsTruncated);

/// <summary>The input of RequestApprovals.</summary>
public sealed record RequestApprovalsInput(string RunId, IReadOnlyList<string> MirrorRunIds, int Step, IReadOnlyList<ToolCallPlan> Calls, DateTimeOffset ExpiresAt);

/// <summary>The input of AppendEvents: events for <paramref name="RunId"/> and the same events (keys prefixed with the run id) for <paramref name="MirrorRunIds"/>.</summary>
public sealed record AppendEventsInput(string RunId, IReadOnlyList<NewRunEvent> Events, IReadOnlyList<string>? MirrorRunIds = null);

/// <summary>The input of SaveSession.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Agent">The agent.</param>
/// <param name="SessionKey">The session; null saves nothing (sub-agent runs).</param>
/// <param name="NewMessages">The turn's messages: the user's message, then what the model and tools produced.</param>
/// <param name="PartialStep">For a cancelled run: the model call that was streaming, whose text is recovered from the log.</param>
/// <param name="Finish">When set, the activity appends <c>run.finished</c> after saving (the completed path: one activity instead of two).</param>
public sealed record SaveSessionInput(string RunId, string Agent, string? SessionKey, IReadOnlyList<TurnMessage> NewMessages, int? PartialStep, FinishInput? Finish = null);

/// <summary>What SaveSession did.</summary>
/// <param name="RecoveredText">Text streamed by <see cref="SaveSessionInput.PartialStep"/> before the run was cancelled.</param>
public sealed record SaveSessionResult(string? RecoveredText);

/// <summary>The input of Finish.</summary>
public sealed record FinishInput(string RunId, string Status, string? Text, string? Error, ProviderUsage Usage, int Iterations, bool IterationLimitReached);
