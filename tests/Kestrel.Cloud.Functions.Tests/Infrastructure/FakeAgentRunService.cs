using System.Collections.Concurrent;
using System.Text.Json;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Runs;

namespace Kestrel.Cloud.Functions.Tests.Infrastructure;

/// <summary>
/// A scripted <see cref="IAgentRunService"/> for the HTTP tests: runs live in memory, the test moves them (text,
/// approval requests, completion), and every step appends the same events the real turn appends to the app's real
/// <see cref="IRunEventLog"/>, so the SSE and JSON event endpoints read genuine logs. Links of pending approvals come
/// from the app's real <see cref="IApprovalLinkFactory"/>. The real engine's end-to-end tests replace it after merge.
/// </summary>
public sealed class FakeAgentRunService : IAgentRunService
{
    private readonly ConcurrentDictionary<string, FakeRun> runs = new(StringComparer.Ordinal);
    private readonly IRunEventLog log;
    private readonly TimeProvider time;
    private readonly IApprovalLinkFactory links;
    private int next;

    public FakeAgentRunService(IRunEventLog log, TimeProvider time, IApprovalLinkFactory links)
    {
        this.log = log;
        this.time = time;
        this.links = links;
    }

    /// <summary>When set, every started run completes at once with this text (events: started, text delta, usage, finished).</summary>
    public string? CompleteImmediatelyWith { get; set; }

    /// <summary>Called at the start of <see cref="StartAsync"/>; throw from it to simulate the engine refusing.</summary>
    public Action<StartRunRequest>? OnStart { get; set; }

    /// <summary>Every start request, in order.</summary>
    public ConcurrentQueue<StartRunRequest> Started { get; } = new();

    /// <summary>Every decision delivered (accepted ones only), in order.</summary>
    public ConcurrentQueue<(string RunId, string CallId, ApprovalDecision Decision)> Decisions { get; } = new();

    /// <summary>Completes when <see cref="WaitForCompletionAsync"/> has been called (the HTTP layer's wait timer exists by then).</summary>
    public TaskCompletionSource WaitStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// When true, an accepted decision leaves the call listed as pending, as the real service does until the turn's
    /// orchestration has applied the decision: only the ledger then stops a second decision.
    /// </summary>
    public bool PendingViewLags { get; set; }

    /// <summary>Cancel requests, in order.</summary>
    public ConcurrentQueue<(string RunId, string? Reason)> Cancels { get; } = new();

    public async Task<RunInfo> StartAsync(StartRunRequest request, CancellationToken cancellationToken = default)
    {
        this.OnStart?.Invoke(request);
        this.Started.Enqueue(request);
        string runId = $"run-{Interlocked.Increment(ref this.next)}";
        DateTimeOffset now = this.time.GetUtcNow();
        var run = new FakeRun(new RunInfo(runId, request.Agent, request.SessionKey ?? "default", RunStatus.Pending, now, now, null, null, Array.Empty<PendingApproval>(), RunUsage.Zero, 0, null));
        this.runs[runId] = run;
        await this.AppendAsync(runId, "started", RunEventTypes.Started, new { runId, agent = request.Agent, sessionKey = run.Info.SessionKey, message = request.Message });
        if (this.CompleteImmediatelyWith is { } text)
        {
            await this.AppendTextAsync(runId, text);
            await this.CompleteAsync(runId, text);
        }

        return this.runs[runId].Info;
    }

    public Task<RunInfo?> GetAsync(string runId, CancellationToken cancellationToken = default) =>
        Task.FromResult(this.runs.TryGetValue(runId, out FakeRun? run) ? run.Info : null);

    public Task<(IReadOnlyList<RunInfo> Runs, string? ContinuationToken)> ListAsync(string? agent, RunStatus? status, int pageSize = 50, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        if (continuationToken is not null)
        {
            throw new ArgumentException("The continuation token is not one this service issued.", nameof(continuationToken));
        }

        IReadOnlyList<RunInfo> page = this.runs.Values.Select(r => r.Info)
            .Where(r => (agent is null || r.Agent == agent) && (status is null || r.Status == status))
            .OrderBy(r => r.RunId, StringComparer.Ordinal)
            .Take(pageSize)
            .ToList();
        return Task.FromResult<(IReadOnlyList<RunInfo>, string?)>((page, null));
    }

    public async Task<RunInfo> WaitForCompletionAsync(string runId, CancellationToken cancellationToken = default)
    {
        FakeRun run = this.runs[runId];
        this.WaitStarted.TrySetResult();
        await run.Done.Task.WaitAsync(cancellationToken);
        return run.Info;
    }

    public async Task<bool> CancelAsync(string runId, string? reason = null, CancellationToken cancellationToken = default)
    {
        if (!this.runs.TryGetValue(runId, out FakeRun? run) || IsFinal(run.Info.Status))
        {
            return false;
        }

        this.Cancels.Enqueue((runId, reason));
        await this.FinishAsync(runId, RunStatus.Cancelled, null, null);
        return true;
    }

    public async Task<ApprovalOutcome> DecideAsync(string runId, string callId, ApprovalDecision decision, CancellationToken cancellationToken = default)
    {
        if (!this.runs.TryGetValue(runId, out FakeRun? run))
        {
            return ApprovalOutcome.RunNotFound;
        }

        lock (run)
        {
            if (run.Info.PendingApprovals.All(p => p.CallId != callId))
            {
                return ApprovalOutcome.NotPending;
            }

            var rest = this.PendingViewLags ? run.Info.PendingApprovals.ToList() : run.Info.PendingApprovals.Where(p => p.CallId != callId).ToList();
            run.Info = run.Info with { PendingApprovals = rest, Status = rest.Count == 0 ? RunStatus.Running : RunStatus.WaitingForApproval, LastUpdatedAt = this.time.GetUtcNow() };
        }

        this.Decisions.Enqueue((runId, callId, decision));
        await this.AppendAsync(runId, $"{callId}/decision", decision.Approved ? RunEventTypes.ApprovalGranted : RunEventTypes.ApprovalDenied, new { callId, by = decision.By, reason = decision.Reason });
        return ApprovalOutcome.Accepted;
    }

    /// <summary>Appends a text delta and moves the run to Running.</summary>
    public async Task AppendTextAsync(string runId, string text)
    {
        FakeRun run = this.runs[runId];
        int step;
        lock (run)
        {
            step = ++run.Steps;
            run.Info = run.Info with { Status = RunStatus.Running, Iterations = step, LastUpdatedAt = this.time.GetUtcNow() };
        }

        await this.AppendAsync(runId, $"step-{step}/text", RunEventTypes.TextDelta, new { step, text });
    }

    /// <summary>Parks the run on an approval for <paramref name="callId"/>, with real signed links expiring at <paramref name="expiresAt"/>.</summary>
    public async Task<PendingApproval> RequestApprovalAsync(string runId, string callId, string tool, object arguments, DateTimeOffset expiresAt)
    {
        (string approve, string deny) = this.links.CreateLinks(runId, callId, expiresAt);
        var pending = new PendingApproval(callId, tool, JsonSerializer.SerializeToElement(arguments), expiresAt, approve, deny);
        FakeRun run = this.runs[runId];
        lock (run)
        {
            run.Info = run.Info with
            {
                Status = RunStatus.WaitingForApproval,
                PendingApprovals = run.Info.PendingApprovals.Append(pending).ToList(),
                LastUpdatedAt = this.time.GetUtcNow(),
            };
        }

        await this.AppendAsync(runId, $"{callId}/approval", RunEventTypes.ApprovalRequested, new { callId, tool, arguments, expiresAt, approveUrl = approve, denyUrl = deny });
        return pending;
    }

    /// <summary>Sets the run's usage.</summary>
    public void SetUsage(string runId, RunUsage usage)
    {
        FakeRun run = this.runs[runId];
        lock (run)
        {
            run.Info = run.Info with { Usage = usage };
        }
    }

    /// <summary>Completes the run with <paramref name="text"/> (appends the finished event).</summary>
    public Task CompleteAsync(string runId, string text) => this.FinishAsync(runId, RunStatus.Completed, text, null);

    private async Task FinishAsync(string runId, RunStatus status, string? text, string? error)
    {
        FakeRun run = this.runs[runId];
        lock (run)
        {
            run.Info = run.Info with { Status = status, FinalText = text, Error = error, PendingApprovals = Array.Empty<PendingApproval>(), LastUpdatedAt = this.time.GetUtcNow() };
        }

        await this.AppendAsync(runId, "finished", RunEventTypes.Finished, new { status = status.ToString().ToLowerInvariant(), text, error });
        run.Done.TrySetResult();
    }

    private Task AppendAsync<T>(string runId, string key, string type, T data) =>
        this.log.AppendAsync(runId, new[] { NewRunEvent.Create(key, type, data) });

    private static bool IsFinal(RunStatus status) => status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled;

    private sealed class FakeRun(RunInfo info)
    {
        public RunInfo Info { get; set; } = info;

        public int Steps { get; set; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
