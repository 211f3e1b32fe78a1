using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Durable.Worker;

/// <summary>Source-generated engine logs; event ids 1000-1099 belong to the worker.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "Instance {InstanceId}: step committed, status {Status}, {MessageCount} messages in, {EventCount} events recorded.")]
    public static partial void StepCommitted(ILogger logger, string instanceId, OrchestrationRuntimeStatus status, int messageCount, int eventCount);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Instance {InstanceId}: step not committed because the lock was lost: {Reason}")]
    public static partial void StepLockLost(ILogger logger, string instanceId, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Instance {InstanceId}: step failed in the engine and was released for redelivery.")]
    public static partial void StepAbandoned(ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Activity {Name} for instance {InstanceId} (task #{TaskId}) released at shutdown; it will run again.")]
    public static partial void ActivityReleased(ILogger logger, string name, string instanceId, int taskId);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "Activity {Name} for instance {InstanceId} (task #{TaskId}) finished after its lock was lost; its result was discarded (another delivery runs it).")]
    public static partial void ActivityLockLost(ILogger logger, string name, string instanceId, int taskId);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Error, Message = "Activity {Name} for instance {InstanceId}: recording the result failed; released for redelivery.")]
    public static partial void ActivityCompleteFailed(ILogger logger, string name, string instanceId, Exception exception);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Activity {Name} for instance {InstanceId} failed with {ErrorType}; the orchestration receives the failure.")]
    public static partial void ActivityFailed(ILogger logger, string name, string instanceId, string errorType);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Warning, Message = "Releasing a work item failed; it is delivered again when its lock expires.")]
    public static partial void AbandonFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1030, Level = LogLevel.Error, Message = "The {Kind} dispatcher failed to fetch work; retrying.")]
    public static partial void FetchFailed(ILogger logger, Storage.WorkItemKind kind, Exception exception);

    [LoggerMessage(EventId = 1031, Level = LogLevel.Information, Message = "Durable worker started on store {Store}: {Orchestrations} orchestration and {Activities} activity slots.")]
    public static partial void WorkerStarted(ILogger logger, string store, int orchestrations, int activities);

    [LoggerMessage(EventId = 1032, Level = LogLevel.Information, Message = "Durable worker stopping: waiting up to {Timeout} for {Count} work items in flight.")]
    public static partial void WorkerStopping(ILogger logger, TimeSpan timeout, int count);
}
