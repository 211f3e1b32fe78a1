using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.Storage;

/// <summary>The stored state of an instance (everything but its history and inbox).</summary>
public sealed record InstanceRecord
{
    /// <summary>The instance id.</summary>
    public required string InstanceId { get; init; }

    /// <summary>The orchestration name.</summary>
    public required string Name { get; init; }

    /// <summary>The current execution id (changes on ContinueAsNew and on restart of a finished instance).</summary>
    public required string ExecutionId { get; init; }

    /// <summary>The runtime status.</summary>
    public required OrchestrationRuntimeStatus Status { get; init; }

    /// <summary>The input of the current execution (JSON).</summary>
    public string? Input { get; init; }

    /// <summary>The output when finished (JSON).</summary>
    public string? Output { get; init; }

    /// <summary>The custom status (JSON).</summary>
    public string? CustomStatus { get; init; }

    /// <summary>The failure when Failed.</summary>
    public TaskFailureDetails? Failure { get; init; }

    /// <summary>When the instance was created (UTC).</summary>
    public required DateTime CreatedAt { get; init; }

    /// <summary>When it last changed (UTC).</summary>
    public required DateTime LastUpdatedAt { get; init; }

    /// <summary>The parent instance, for sub-orchestrations.</summary>
    public string? ParentInstanceId { get; init; }

    /// <summary>Number of history events of the current execution.</summary>
    public int HistoryCount { get; init; }

    /// <summary>Converts to client-facing metadata.</summary>
    public OrchestrationMetadata ToMetadata(bool includeInputsAndOutputs, DataConverter? converter = null) =>
        new(this.Name, this.InstanceId)
        {
            RuntimeStatus = this.Status,
            CreatedAt = new DateTimeOffset(DateTime.SpecifyKind(this.CreatedAt, DateTimeKind.Utc)),
            LastUpdatedAt = new DateTimeOffset(DateTime.SpecifyKind(this.LastUpdatedAt, DateTimeKind.Utc)),
            SerializedInput = includeInputsAndOutputs ? this.Input : null,
            SerializedOutput = includeInputsAndOutputs ? this.Output : null,
            SerializedCustomStatus = includeInputsAndOutputs ? this.CustomStatus : null,
            FailureDetails = this.Failure,
            ParentInstanceId = this.ParentInstanceId,
            ExecutionId = this.ExecutionId,
            DataConverter = converter ?? JsonDataConverter.Default,
        };
}

/// <summary>An instance locked for one step, with the messages to apply.</summary>
public sealed class OrchestrationWorkItem
{
    /// <summary>Creates a work item.</summary>
    public OrchestrationWorkItem(InstanceRecord instance, IReadOnlyList<OrchestrationMessage> messages, string lockToken, int deliveryCount, object? storeState = null)
    {
        this.Instance = instance;
        this.Messages = messages;
        this.LockToken = lockToken;
        this.DeliveryCount = deliveryCount;
        this.StoreState = storeState;
    }

    /// <summary>The instance id.</summary>
    public string InstanceId => this.Instance.InstanceId;

    /// <summary>The instance as stored when locked.</summary>
    public InstanceRecord Instance { get; }

    /// <summary>The visible inbox messages, in arrival order. The step consumes all of them.</summary>
    public IReadOnlyList<OrchestrationMessage> Messages { get; }

    /// <summary>Proves the lock; a commit with a stale token fails with <see cref="StoreConcurrencyException"/>.</summary>
    public string LockToken { get; }

    /// <summary>How many times these messages were handed out (1 on first delivery).</summary>
    public int DeliveryCount { get; }

    /// <summary>Whatever the store needs to complete the item (message ids, ETag, queue receipt).</summary>
    public object? StoreState { get; }
}

/// <summary>An activity to run.</summary>
public sealed record ActivityRequest(string InstanceId, string ExecutionId, int TaskId, string Name, string? Input);

/// <summary>An activity locked by a worker.</summary>
public sealed class ActivityWorkItem
{
    /// <summary>Creates a work item.</summary>
    public ActivityWorkItem(ActivityRequest request, string lockToken, int deliveryCount, object? storeState = null)
    {
        this.Request = request;
        this.LockToken = lockToken;
        this.DeliveryCount = deliveryCount;
        this.StoreState = storeState;
    }

    /// <summary>What to run.</summary>
    public ActivityRequest Request { get; }

    /// <summary>Proves the lock.</summary>
    public string LockToken { get; set; }

    /// <summary>How many times this activity was handed out (1 on first delivery).</summary>
    public int DeliveryCount { get; }

    /// <summary>Whatever the store needs to complete the item.</summary>
    public object? StoreState { get; set; }
}

/// <summary>
/// Everything one orchestration step changes, committed atomically: the instance's new state and history,
/// the consumed inbox messages (those of the work item), new activities and messages to any instance.
/// </summary>
public sealed class OrchestrationStepCommit
{
    /// <summary>The instance's new state. <see cref="InstanceRecord.HistoryCount"/> is the count after the commit.</summary>
    public required InstanceRecord Instance { get; init; }

    /// <summary>When true the stored history is replaced by <see cref="NewEvents"/> (ContinueAsNew, restart); otherwise appended.</summary>
    public bool ReplaceHistory { get; init; }

    /// <summary>History events to append (or the whole new history).</summary>
    public required IReadOnlyList<HistoryEvent> NewEvents { get; init; }

    /// <summary>Activities to make available to activity workers.</summary>
    public required IReadOnlyList<ActivityRequest> Activities { get; init; }

    /// <summary>
    /// Messages to deliver: timers and restarts to this instance, events and results to others. A message
    /// whose event is <see cref="ExecutionStartedEvent"/> for another instance creates it (see
    /// <see cref="InstanceCreation"/>); other messages for instances that do not exist are dropped.
    /// </summary>
    public required IReadOnlyList<OrchestrationMessage> Messages { get; init; }
}

/// <summary>A query over instances, newest-created last; paged with a continuation token.</summary>
public sealed record InstanceQuery
{
    /// <summary>Only these statuses (null or empty for all).</summary>
    public IReadOnlyCollection<OrchestrationRuntimeStatus>? Statuses { get; init; }

    /// <summary>Instance ids starting with this (ordinal).</summary>
    public string? InstanceIdPrefix { get; init; }

    /// <summary>Orchestration names starting with this (case-insensitive).</summary>
    public string? NamePrefix { get; init; }

    /// <summary>Created at or after this time (UTC).</summary>
    public DateTime? CreatedFrom { get; init; }

    /// <summary>Created before this time (UTC).</summary>
    public DateTime? CreatedTo { get; init; }

    /// <summary>Page size, 1 to 1000.</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>The token from the previous page, or null for the first page.</summary>
    public string? ContinuationToken { get; init; }

    /// <summary>True when the instance matches the filters (not the paging).</summary>
    public bool Matches(InstanceRecord r) =>
        (this.Statuses is null || this.Statuses.Count == 0 || this.Statuses.Contains(r.Status))
        && (this.InstanceIdPrefix is null || r.InstanceId.StartsWith(this.InstanceIdPrefix, StringComparison.Ordinal))
        && (this.NamePrefix is null || r.Name.StartsWith(this.NamePrefix, StringComparison.OrdinalIgnoreCase))
        && (this.CreatedFrom is null || r.CreatedAt >= this.CreatedFrom)
        && (this.CreatedTo is null || r.CreatedAt < this.CreatedTo);
}

/// <summary>One page of instances.</summary>
public sealed record InstanceQueryResult(IReadOnlyList<InstanceRecord> Instances, string? ContinuationToken);

/// <summary>Which finished instances to purge.</summary>
public sealed record PurgeInstancesFilter(DateTime? CreatedFrom = null, DateTime? CreatedTo = null, IReadOnlyCollection<OrchestrationRuntimeStatus>? Statuses = null);

/// <summary>Rules every store applies when a message would create an instance.</summary>
public static class InstanceCreation
{
    /// <summary>
    /// A sub-orchestration start for an instance id that exists and has not finished is refused: instead of
    /// creating it, the store delivers this failure to the parent. Returns null when creation may proceed.
    /// </summary>
    public static OrchestrationMessage? RejectionFor(OrchestrationMessage start, OrchestrationRuntimeStatus? existingStatus)
    {
        if (start.Event is not ExecutionStartedEvent es || existingStatus is null || existingStatus.Value.IsTerminal() || es.Parent is null)
        {
            return null;
        }

        var details = new TaskFailureDetails(
            typeof(OrchestrationAlreadyExistsException).FullName!,
            new OrchestrationAlreadyExistsException(start.InstanceId, existingStatus.Value).Message);
        return new OrchestrationMessage(
            es.Parent.InstanceId,
            es.Parent.ExecutionId,
            new SubOrchestrationFailedEvent(es.Parent.TaskScheduledId, details) { Timestamp = es.Timestamp });
    }

    /// <summary>The record of a newly created (or restarted) instance.</summary>
    public static InstanceRecord NewRecord(string instanceId, ExecutionStartedEvent es, DateTime now) => new()
    {
        InstanceId = instanceId,
        Name = es.Name,
        ExecutionId = es.ExecutionId,
        Status = OrchestrationRuntimeStatus.Pending,
        Input = es.Input,
        CreatedAt = now,
        LastUpdatedAt = now,
        ParentInstanceId = es.Parent?.InstanceId,
        HistoryCount = 0,
    };
}
