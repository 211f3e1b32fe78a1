using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.Storage;

/// <summary>
/// Where instances, their histories and inboxes, and activity work live. Every store passes the same
/// conformance suite (tests/Kestrel.Cloud.Durable.Tests/Conformance). Invariants:
/// <list type="bullet">
/// <item>A step commit is atomic: history, instance state, consumed messages and all produced work
/// change together or not at all. There is no state in which an instance is Running with nothing that
/// will ever wake it.</item>
/// <item>A commit or activity completion whose lock is no longer held changes nothing.</item>
/// <item>Messages and activities are delivered at least once; the engine de-duplicates.</item>
/// <item>Times come from the store's <see cref="TimeProvider"/> (tests use a manual clock).</item>
/// </list>
/// </summary>
public interface IOrchestrationStore
{
    /// <summary>A short name for health reports ("in-memory", "sqlite", "azure-storage").</summary>
    string Name { get; }

    /// <summary>In-process notifications raised by this store's own writes.</summary>
    StoreSignals Signals { get; }

    /// <summary>Creates tables, containers or queues if they do not exist.</summary>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    // ---- client side ----

    /// <summary>
    /// Creates an instance from its <see cref="ExecutionStartedEvent"/> message (status Pending) and puts
    /// the message in its inbox. A finished instance with the same id is replaced (its history and inbox
    /// cleared). Throws <see cref="OrchestrationAlreadyExistsException"/> if one exists and has not finished.
    /// </summary>
    Task CreateInstanceAsync(OrchestrationMessage startMessage, CancellationToken cancellationToken = default);

    /// <summary>Puts a message in an existing instance's inbox; throws <see cref="OrchestrationNotFoundException"/> if there is none.</summary>
    Task SendMessageAsync(OrchestrationMessage message, CancellationToken cancellationToken = default);

    /// <summary>Reads an instance, or null.</summary>
    Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>Reads the history of the current execution, in order.</summary>
    Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>One page of instances matching the query, ordered by creation time then id.</summary>
    Task<InstanceQueryResult> QueryInstancesAsync(InstanceQuery query, CancellationToken cancellationToken = default);

    /// <summary>Deletes a finished instance with its history, inbox and work. Returns false if none exists;
    /// throws <see cref="InvalidOperationException"/> if it has not finished.</summary>
    Task<bool> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>Deletes every finished instance matching the filter; returns how many.</summary>
    Task<int> PurgeInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default);

    // ---- worker side ----

    /// <summary>Locks an unlocked (or lock-expired) instance with visible inbox messages, or returns null.</summary>
    Task<OrchestrationWorkItem?> TryLockNextOrchestrationAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default);

    /// <summary>
    /// Commits a step atomically, consumes the work item's messages and releases the lock. Throws
    /// <see cref="StoreConcurrencyException"/> (changing nothing) if the lock was lost.
    /// </summary>
    Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Releases the lock without consuming the messages. The instance is not delivered again before
    /// <paramref name="delay"/> has passed, and then with these messages still in arrival order: a message that
    /// arrives meanwhile never overtakes them (external events with one name are received in the order raised).
    /// </summary>
    Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default);

    /// <summary>Locks a visible activity, or returns null.</summary>
    Task<ActivityWorkItem?> TryLockNextActivityAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default);

    /// <summary>Extends an activity's lock; false if it was lost.</summary>
    Task<bool> RenewActivityLockAsync(ActivityWorkItem workItem, TimeSpan lockDuration, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the activity and puts its result (TaskCompleted/TaskFailed) in the instance's inbox,
    /// atomically. Returns false, changing nothing, if the lock was lost.
    /// </summary>
    Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default);

    /// <summary>Releases an activity's lock; it becomes visible again after <paramref name="delay"/>.</summary>
    Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default);

    /// <summary>
    /// The earliest time work of the given kind becomes available: the visible time of an unlocked message
    /// or activity (a timer, a delayed retry), or the expiry of a lock. A time at or before now when some
    /// work is available already (for example a timer that came due since the last lock attempt); null
    /// when there is no work at all. Idle workers sleep until then.
    /// </summary>
    Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default);
}

/// <summary>The two kinds of work.</summary>
public enum WorkItemKind
{
    /// <summary>An orchestration step.</summary>
    Orchestration,

    /// <summary>An activity.</summary>
    Activity,
}
