using System.Collections.Concurrent;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>
/// Wraps the store under test and checks the step-commit invariants on every successful commit, from both
/// sides: the engine's commit says how long the history will be (<see cref="InstanceRecord.HistoryCount"/>
/// = previous count, or 0 when replacing, plus the new events), and the store's record and history must agree
/// with it afterwards. Violations are collected, not thrown (the worker would swallow them), and the harness
/// fails the test with them at the end of every run.
/// </summary>
public sealed class InvariantCheckingStore : IOrchestrationStore
{
    private readonly ConcurrentQueue<string> violations = new();

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public InvariantCheckingStore(IOrchestrationStore inner)
    {
        this.Inner = inner;
    }

    /// <summary>The store under test.</summary>
    public IOrchestrationStore Inner { get; }

    /// <summary>Every violation seen so far.</summary>
    public IReadOnlyCollection<string> Violations => this.violations.ToArray();

    /// <inheritdoc/>
    public string Name => this.Inner.Name;

    /// <inheritdoc/>
    public StoreSignals Signals => this.Inner.Signals;

    /// <inheritdoc/>
    public Task InitializeAsync(CancellationToken cancellationToken = default) => this.Inner.InitializeAsync(cancellationToken);

    /// <inheritdoc/>
    public Task CreateInstanceAsync(OrchestrationMessage startMessage, CancellationToken cancellationToken = default) =>
        this.Inner.CreateInstanceAsync(startMessage, cancellationToken);

    /// <inheritdoc/>
    public Task SendMessageAsync(OrchestrationMessage message, CancellationToken cancellationToken = default) =>
        this.Inner.SendMessageAsync(message, cancellationToken);

    /// <inheritdoc/>
    public Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.Inner.GetInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.Inner.GetHistoryAsync(instanceId, cancellationToken);

    /// <inheritdoc/>
    public Task<InstanceQueryResult> QueryInstancesAsync(InstanceQuery query, CancellationToken cancellationToken = default) =>
        this.Inner.QueryInstancesAsync(query, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.Inner.PurgeInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc/>
    public Task<int> PurgeInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default) =>
        this.Inner.PurgeInstancesAsync(filter, cancellationToken);

    /// <inheritdoc/>
    public Task<OrchestrationWorkItem?> TryLockNextOrchestrationAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.Inner.TryLockNextOrchestrationAsync(lockDuration, cancellationToken);

    /// <inheritdoc/>
    public async Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default)
    {
        string id = workItem.InstanceId;
        int before = (await this.Inner.GetHistoryAsync(id, cancellationToken)).Count;
        await this.Inner.CompleteOrchestrationAsync(workItem, commit, cancellationToken);

        int expected = (commit.ReplaceHistory ? 0 : before) + commit.NewEvents.Count;
        if (!string.Equals(commit.Instance.InstanceId, id, StringComparison.Ordinal))
        {
            this.violations.Enqueue($"engine: a step of '{id}' committed a record for '{commit.Instance.InstanceId}'.");
        }

        if (commit.Instance.HistoryCount != expected)
        {
            this.violations.Enqueue(
                $"engine: a step of '{id}' committed HistoryCount {commit.Instance.HistoryCount}, but the history had {before} events " +
                $"and the step {(commit.ReplaceHistory ? "replaced it with" : "appended")} {commit.NewEvents.Count}, so it must be {expected}.");
        }

        InstanceRecord? stored = await this.Inner.GetInstanceAsync(id, cancellationToken);
        int actual = (await this.Inner.GetHistoryAsync(id, cancellationToken)).Count;
        if (stored is null)
        {
            this.violations.Enqueue($"store: instance '{id}' is missing right after a step commit.");
            return;
        }

        if (actual != expected)
        {
            this.violations.Enqueue($"store: after a step of '{id}' the history has {actual} events; the commit implies {expected}.");
        }

        if (stored.HistoryCount != actual)
        {
            this.violations.Enqueue($"store: instance '{id}' records HistoryCount {stored.HistoryCount}, but its history has {actual} events.");
        }

        if (stored.Status != commit.Instance.Status)
        {
            this.violations.Enqueue($"store: a step of '{id}' committed status {commit.Instance.Status}, but the store reads back {stored.Status}.");
        }
    }

    /// <inheritdoc/>
    public Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default) =>
        this.Inner.AbandonOrchestrationAsync(workItem, delay, cancellationToken);

    /// <inheritdoc/>
    public Task<ActivityWorkItem?> TryLockNextActivityAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.Inner.TryLockNextActivityAsync(lockDuration, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> RenewActivityLockAsync(ActivityWorkItem workItem, TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.Inner.RenewActivityLockAsync(workItem, lockDuration, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default) =>
        this.Inner.CompleteActivityAsync(workItem, result, cancellationToken);

    /// <inheritdoc/>
    public Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default) =>
        this.Inner.AbandonActivityAsync(workItem, delay, cancellationToken);

    /// <inheritdoc/>
    public Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default) =>
        this.Inner.GetNextWakeUpTimeAsync(kind, cancellationToken);
}
