using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>Source-generated turn and run logs; event ids 2100-2149 belong to agent turns and runs.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Run {RunId} started for agent {Agent} (session {SessionKey}).")]
    public static partial void RunStarted(ILogger logger, string runId, string agent, string? sessionKey);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Run {RunId} finished: {Status} after {Iterations} model calls.")]
    public static partial void RunFinished(ILogger logger, string runId, string status, int iterations);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "Run {RunId} step {Step}: model {Model} answered with {ToolCalls} tool calls ({InputTokens} in, {OutputTokens} out).")]
    public static partial void ModelCalled(ILogger logger, string runId, int step, string? model, int toolCalls, long inputTokens, long outputTokens);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Debug, Message = "Run {RunId}: tool {Tool} (call {CallId}) ran; error: {IsError}.")]
    public static partial void ToolRan(ILogger logger, string runId, string tool, string callId, bool isError);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Information, Message = "Run {RunId}: session {Agent}/{SessionKey} compacted; {Summarized} older messages replaced by a summary.")]
    public static partial void SessionCompacted(ILogger logger, string runId, string agent, string sessionKey, int summarized);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "Run {RunId} failed: {Error}")]
    public static partial void RunFailed(ILogger logger, string runId, string error);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Information, Message = "Run {RunId}: cancel requested ({Reason}).")]
    public static partial void CancelRequested(ILogger logger, string runId, string? reason);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Information, Message = "Created the default agent.")]
    public static partial void DefaultAgentCreated(ILogger logger);
}
