namespace Kestrel.Cloud.Agents.Runs;

/// <summary>The event types of a run's log (the SSE <c>event:</c> names). docs/agents.md lists each one's data.</summary>
public static class RunEventTypes
{
    /// <summary>The run started: <c>{ runId, agent, sessionKey, message }</c>.</summary>
    public const string Started = "run.started";

    /// <summary>A batch of streamed model text: <c>{ step, text }</c>.</summary>
    public const string TextDelta = "text.delta";

    /// <summary>The model asked for a tool call: <c>{ step, callId, tool, arguments, decision }</c> (decision: allow, deny or ask).</summary>
    public const string ToolCallRequested = "tool.call.requested";

    /// <summary>A call waits for a human: <c>{ callId, tool, arguments, expiresAt, approveUrl, denyUrl }</c>.</summary>
    public const string ApprovalRequested = "approval.requested";

    /// <summary>A human approved: <c>{ callId, by, reason }</c>.</summary>
    public const string ApprovalGranted = "approval.granted";

    /// <summary>A human (or the policy) denied: <c>{ callId, by, reason }</c>.</summary>
    public const string ApprovalDenied = "approval.denied";

    /// <summary>Nobody answered in time; counts as a denial: <c>{ callId, reason }</c>.</summary>
    public const string ApprovalTimedOut = "approval.timedOut";

    /// <summary>A tool call's result, truncated for display: <c>{ callId, tool, isError, text, truncated }</c>.</summary>
    public const string ToolResult = "tool.result";

    /// <summary>Token usage of one model call and the run's total so far: <c>{ step, call, total }</c>.</summary>
    public const string Usage = "usage";

    /// <summary>The run ended: <c>{ status, text, error }</c> (status: completed, failed, cancelled). Always the last event.</summary>
    public const string Finished = "run.finished";
}
