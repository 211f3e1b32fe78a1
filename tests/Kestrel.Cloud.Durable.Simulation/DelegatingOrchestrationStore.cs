using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>
/// A store that forwards every call to an inner store; override a member to change one behaviour. Used for
/// deliberately broken stores that prove the simulation detects what they break.
/// </summary>
public abstract class DelegatingOrchestrationStore : IOrchestrationStore
{
    /// <summary>Wraps <paramref name="inner"/>.</summary>
    protected DelegatingOrchestrationStore(IOrchestrationStore inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        this.Inner = inner;
    }

    /// <summary>The wrapped store.</summary>
    protected IOrchestrationStore Inner { get; }

    /// <inheritdoc/>
    public virtual string Name => this.Inner.Name;

    /// <inheritdoc/>
    public virtual StoreSignals Signals => this.Inner.Signals;

    /// <inheritdoc/>
    public virtual Task InitializeAsync(CancellationToken cancellationToken = default) => this.Inner.InitializeAsync(cancellationToken);

    /// <inheritdoc/>
    public virtual Task CreateInstanceAsync(OrchestrationMessage startMessage, CancellationToken cancellationToken = default) =>
        this.Inner.CreateInstanceAsync(startMessage, cancellationToken);

    /// <inheritdoc/>
    public virtual Task SendMessageAsync(OrchestrationMessage message, CancellationToken cancellationToken = default) =>
        this.Inner.SendMessageAsync(message, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.Inner.GetInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.Inner.GetHistoryAsync(instanceId, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<InstanceQueryResult> QueryInstancesAsync(InstanceQuery query, CancellationToken cancellationToken = default) =>
        this.Inner.QueryInstancesAsync(query, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<bool> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.Inner.PurgeInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<int> PurgeInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default) =>
        this.Inner.PurgeInstancesAsync(filter, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<OrchestrationWorkItem?> TryLockNextOrchestrationAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.Inner.TryLockNextOrchestrationAsync(lockDuration, cancellationToken);

    /// <inheritdoc/>
    public virtual Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default) =>
        this.Inner.CompleteOrchestrationAsync(workItem, commit, cancellationToken);

    /// <inheritdoc/>
    public virtual Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default) =>
        this.Inner.AbandonOrchestrationAsync(workItem, delay, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<ActivityWorkItem?> TryLockNextActivityAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.Inner.TryLockNextActivityAsync(lockDuration, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<bool> RenewActivityLockAsync(ActivityWorkItem workItem, TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.Inner.RenewActivityLockAsync(workItem, lockDuration, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default) =>
        this.Inner.CompleteActivityAsync(workItem, result, cancellationToken);

    /// <inheritdoc/>
    public virtual Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default) =>
        this.Inner.AbandonActivityAsync(workItem, delay, cancellationToken);

    /// <inheritdoc/>
    public virtual Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default) =>
        this.Inner.GetNextWakeUpTimeAsync(kind, cancellationToken);
}
