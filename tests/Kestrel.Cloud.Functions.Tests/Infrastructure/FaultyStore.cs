using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Functions.Tests.Infrastructure;

/// <summary>
/// A hand-written store that delegates to <see cref="InMemoryOrchestrationStore"/> and, while
/// <see cref="ClientReadFailure"/> is set, throws it from the client-side reads (GetInstance, Query). The
/// dispatcher never calls those, so the engine keeps working; only the HTTP layer sees the failure.
/// </summary>
public sealed class FaultyStore : IOrchestrationStore
{
    private readonly InMemoryOrchestrationStore inner;

    public FaultyStore(TimeProvider timeProvider) => this.inner = new InMemoryOrchestrationStore(timeProvider);

    /// <summary>Thrown from GetInstanceAsync and QueryInstancesAsync while set.</summary>
    public Exception? ClientReadFailure { get; set; }

    public string Name => "faulty-in-memory";

    public StoreSignals Signals => this.inner.Signals;

    public Task InitializeAsync(CancellationToken cancellationToken = default) => this.inner.InitializeAsync(cancellationToken);

    public Task CreateInstanceAsync(OrchestrationMessage startMessage, CancellationToken cancellationToken = default) =>
        this.inner.CreateInstanceAsync(startMessage, cancellationToken);

    public Task SendMessageAsync(OrchestrationMessage message, CancellationToken cancellationToken = default) =>
        this.inner.SendMessageAsync(message, cancellationToken);

    public Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.ClientReadFailure is { } failure ? Task.FromException<InstanceRecord?>(failure) : this.inner.GetInstanceAsync(instanceId, cancellationToken);

    public Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.inner.GetHistoryAsync(instanceId, cancellationToken);

    public Task<InstanceQueryResult> QueryInstancesAsync(InstanceQuery query, CancellationToken cancellationToken = default) =>
        this.ClientReadFailure is { } failure ? Task.FromException<InstanceQueryResult>(failure) : this.inner.QueryInstancesAsync(query, cancellationToken);

    public Task<bool> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.inner.PurgeInstanceAsync(instanceId, cancellationToken);

    public Task<int> PurgeInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default) =>
        this.inner.PurgeInstancesAsync(filter, cancellationToken);

    public Task<OrchestrationWorkItem?> TryLockNextOrchestrationAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.inner.TryLockNextOrchestrationAsync(lockDuration, cancellationToken);

    public Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default) =>
        this.inner.CompleteOrchestrationAsync(workItem, commit, cancellationToken);

    public Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default) =>
        this.inner.AbandonOrchestrationAsync(workItem, delay, cancellationToken);

    public Task<ActivityWorkItem?> TryLockNextActivityAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.inner.TryLockNextActivityAsync(lockDuration, cancellationToken);

    public Task<bool> RenewActivityLockAsync(ActivityWorkItem workItem, TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.inner.RenewActivityLockAsync(workItem, lockDuration, cancellationToken);

    public Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default) =>
        this.inner.CompleteActivityAsync(workItem, result, cancellationToken);

    public Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default) =>
        this.inner.AbandonActivityAsync(workItem, delay, cancellationToken);

    public Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default) =>
        this.inner.GetNextWakeUpTimeAsync(kind, cancellationToken);
}
