using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Diagnostics;

/// <summary>
/// Source-generated server logs (category <see cref="Category"/>), event ids 2000-2099. The agents' tool and MCP logs
/// use numbers in the same range under their own categories (docs/configuration.md lists both).
/// </summary>
internal static partial class Log
{
    /// <summary>The log category of server-level messages.</summary>
    public const string Category = "Kestrel.Cloud.Functions";

    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Kestrel.Cloud {Version} listening on {Urls} ({Source}); store {Store}; data folder {DataPath}.")]
    public static partial void ServerStarted(ILogger logger, string version, string urls, string source, string store, string dataPath);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "No API key is configured (KestrelCloud:ApiKeys); generated one and stored it in {KeyFilePath}. Clients send it in the x-api-key header.")]
    public static partial void ApiKeyGenerated(ILogger logger, string keyFilePath);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "No API key is configured (KestrelCloud:ApiKeys); using the generated key stored in {KeyFilePath}.")]
    public static partial void ApiKeyLoadedFromFile(ILogger logger, string keyFilePath);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "{Count} API key(s) configured in KestrelCloud:ApiKeys.")]
    public static partial void ApiKeysConfigured(ILogger logger, int count);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Request {Method} {Path} rejected: {Reason}.")]
    public static partial void ApiKeyRejected(ILogger logger, string method, string path, string reason);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "Started orchestration {Name} as instance {InstanceId}.")]
    public static partial void OrchestrationStarted(ILogger logger, string name, string instanceId);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Information, Message = "Instance {InstanceId}: {Operation} requested.")]
    public static partial void InstanceOperationRequested(ILogger logger, string instanceId, string operation);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Information, Message = "Purged {Count} instance(s).")]
    public static partial void InstancesPurged(ILogger logger, int count);

    [LoggerMessage(EventId = 2020, Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}; correlation id {CorrelationId}.")]
    public static partial void UnhandledException(ILogger logger, string method, string path, string correlationId, Exception exception);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Warning, Message = "Health check: store {Store} is not reachable.")]
    public static partial void StoreUnreachable(ILogger logger, string store, Exception exception);

    [LoggerMessage(EventId = 2022, Level = LogLevel.Debug, Message = "Request {Method} {Path} answered {Status} ({Code}).")]
    public static partial void ProblemReturned(ILogger logger, string method, string path, int status, string code);

    [LoggerMessage(EventId = 2030, Level = LogLevel.Debug, Message = "Functions trigger {Function}: queue message {MessageId} (dequeue {DequeueCount}): {Outcome}.")]
    public static partial void QueueMessageProcessed(ILogger logger, string function, string messageId, long dequeueCount, string outcome);

    [LoggerMessage(EventId = 2031, Level = LogLevel.Warning, Message = "Functions trigger {Function}: queue message {MessageId} failed; the host retries it.")]
    public static partial void QueueMessageFailed(ILogger logger, string function, string messageId, Exception exception);

    [LoggerMessage(EventId = 2032, Level = LogLevel.Information, Message = "Housekeeping: {WakeUps} wake-up(s) sent, {Purged} finished instance(s) purged, {LinksPurged} expired approval link(s) forgotten.")]
    public static partial void HousekeepingDone(ILogger logger, int wakeUps, int purged, int linksPurged);

    [LoggerMessage(EventId = 2033, Level = LogLevel.Error, Message = "Housekeeping failed.")]
    public static partial void HousekeepingFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2034, Level = LogLevel.Information, Message = "Work dispatch: {Mode}.")]
    public static partial void DispatchMode(ILogger logger, string mode);

    [LoggerMessage(EventId = 2040, Level = LogLevel.Information, Message = "Approval links are signed with the key from {Source}.")]
    public static partial void ApprovalSigningKeySource(ILogger logger, string source);

    [LoggerMessage(EventId = 2041, Level = LogLevel.Warning, Message = "Health check: the agent workspace is not reachable.")]
    public static partial void AgentWorkspaceUnreachable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2042, Level = LogLevel.Information, Message = "Run {RunId} started for agent {Agent} (session {SessionKey}, mode {Mode}).")]
    public static partial void RunStarted(ILogger logger, string runId, string agent, string sessionKey, string mode);

    [LoggerMessage(EventId = 2043, Level = LogLevel.Information, Message = "Run {RunId}, call {CallId}: {Decision} via {Channel}; outcome {Outcome}.")]
    public static partial void ApprovalDecided(ILogger logger, string runId, string callId, string decision, string channel, string outcome);

    [LoggerMessage(EventId = 2044, Level = LogLevel.Warning, Message = "Signed approval link refused: {Reason}.")]
    public static partial void ApprovalLinkRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 2045, Level = LogLevel.Information, Message = "Agent {Agent} {Operation}.")]
    public static partial void AgentChanged(ILogger logger, string agent, string operation);

    [LoggerMessage(EventId = 2046, Level = LogLevel.Warning, Message = "Wait mode for run {RunId}: watching its event log for an approval request failed; answered 202 with the run's links instead of waiting.")]
    public static partial void ApprovalWatchFailed(ILogger logger, string runId, Exception exception);
}
