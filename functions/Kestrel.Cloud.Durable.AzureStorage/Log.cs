using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>Source-generated logs of the Azure Storage store; event ids 1300-1399.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Azure Storage store ready on task hub {TaskHub}.")]
    public static partial void Initialized(ILogger logger, string taskHub);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Instance {InstanceId}: gave up after {Attempts} writes that lost an ETag race.")]
    public static partial void ConflictRetriesExhausted(ILogger logger, string instanceId, int attempts);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Instance {InstanceId}: re-dispatching {Count} outbox entries a step committed but did not finish dispatching.")]
    public static partial void OutboxRepaired(ILogger logger, string instanceId, int count);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Error, Message = "Queue message {MessageId} of {Queue} moved to the poison queue after {DequeueCount} dequeues: {Reason}")]
    public static partial void Poisoned(ILogger logger, string messageId, string queue, long dequeueCount, string reason);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Instance {InstanceId}: deleting blobs that are no longer needed failed; they stay until the instance is purged.")]
    public static partial void CleanupFailed(ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(EventId = 1305, Level = LogLevel.Debug, Message = "Instance {InstanceId} purged.")]
    public static partial void Purged(ILogger logger, string instanceId);

    [LoggerMessage(EventId = 1306, Level = LogLevel.Debug, Message = "Queue message {MessageId} dropped: {Reason}.")]
    public static partial void MessageDropped(ILogger logger, string messageId, string reason);
}
