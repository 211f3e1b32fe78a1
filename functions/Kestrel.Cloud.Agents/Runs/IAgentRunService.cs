using System.Text.Json;

namespace Kestrel.Cloud.Agents.Runs;

/// <summary>Where a run is. The first three are live; the last three are final.</summary>
public enum RunStatus
{
    /// <summary>Accepted; the turn has not started yet.</summary>
    Pending,

    /// <summary>Calling the model or running tools.</summary>
    Running,

    /// <summary>Parked until a human decides on at least one tool call (or the approval times out).</summary>
    WaitingForApproval,

    /// <summary>Finished with a final answer (possibly the message that the iteration limit was hit).</summary>
    Completed,

    /// <summary>Finished with an error (see <see cref="RunInfo.Error"/>).</summary>
    Failed,

    /// <summary>Cancelled; what the run had produced is kept.</summary>
    Cancelled,
}

/// <summary>Starts a turn: the user's message to an agent, in a session (default <see cref="Sessions.SessionKeys.Default"/>).</summary>
public sealed record StartRunRequest(string Agent, string Message, string? SessionKey = null);

/// <summary>Tokens a run used, and their cost when the price table knows the model.</summary>
public sealed record RunUsage(long InputTokens, long OutputTokens, long CachedInputTokens, decimal? CostUsd)
{
    /// <summary>No usage yet.</summary>
    public static RunUsage Zero { get; } = new(0, 0, 0, null);
}

/// <summary>A tool call waiting for a human, with its signed one-click links.</summary>
public sealed record PendingApproval(string CallId, string Tool, JsonElement Arguments, DateTimeOffset ExpiresAt, string? ApproveUrl, string? DenyUrl);

/// <summary>What the API shows of a run.</summary>
public sealed record RunInfo(
    string RunId,
    string Agent,
    string SessionKey,
    RunStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastUpdatedAt,
    string? FinalText,
    string? Error,
    IReadOnlyList<PendingApproval> PendingApprovals,
    RunUsage Usage,
    int Iterations,
    string? ParentRunId);

/// <summary>A human's answer to an approval request.</summary>
public sealed record ApprovalDecision(bool Approved, string? Reason = null, string? By = null);

/// <summary>What happened to a decision.</summary>
public enum ApprovalOutcome
{
    /// <summary>Delivered to the waiting run.</summary>
    Accepted,

    /// <summary>No such run.</summary>
    RunNotFound,

    /// <summary>The run has no pending approval with that call id (never asked, already decided, timed out, or the run ended).</summary>
    NotPending,
}

/// <summary>
/// Starts, reads and steers agent runs; each run is an <c>AgentTurn</c> orchestration. Used by the HTTP API and,
/// later, the bots and the OpenAI-compatible endpoint. Works from any process that reaches the store.
/// </summary>
public interface IAgentRunService
{
    /// <summary>Starts a turn and returns the new run (status Pending).</summary>
    /// <exception cref="Definitions.AgentWorkspaceException">The agent does not exist.</exception>
    /// <exception cref="Providers.ProviderNotConfiguredException">No model provider is configured for the agent.</exception>
    /// <exception cref="ArgumentException">The message is empty or too long, or the session key is not valid.</exception>
    Task<RunInfo> StartAsync(StartRunRequest request, CancellationToken cancellationToken = default);

    /// <summary>The run, or null when there is none with this id.</summary>
    Task<RunInfo?> GetAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>One page of runs, newest first where the store allows, optionally of one agent and in one status.</summary>
    Task<(IReadOnlyList<RunInfo> Runs, string? ContinuationToken)> ListAsync(string? agent, RunStatus? status, int pageSize = 50, string? continuationToken = null, CancellationToken cancellationToken = default);

    /// <summary>Completes when the run is final (Completed, Failed or Cancelled) and returns it; cancel the token to stop waiting.</summary>
    Task<RunInfo> WaitForCompletionAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Asks the run to stop; it ends as Cancelled, keeping what it produced. False when there is no such live run.</summary>
    Task<bool> CancelAsync(string runId, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Delivers a human's decision on a pending tool call.</summary>
    Task<ApprovalOutcome> DecideAsync(string runId, string callId, ApprovalDecision decision, CancellationToken cancellationToken = default);
}
