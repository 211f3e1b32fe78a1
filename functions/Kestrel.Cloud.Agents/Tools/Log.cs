using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Agents.Tools;

/// <summary>
/// Source-generated tool logs, event ids 2000-2029 (MCP: 2030-2049, <see cref="Mcp.McpLog"/>). The server's logs use
/// numbers in the same range, so an id names an event only together with its category (the logging class).
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Error, Message = "Tool {Tool} failed for agent {Agent} (call {CallId}); error id {ErrorId}.")]
    public static partial void ToolFailed(ILogger logger, string tool, string agent, string? callId, string errorId, Exception exception);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Tool {Tool} for agent {Agent} (call {CallId}) did not finish within {Timeout} and was stopped.")]
    public static partial void ToolTimedOut(ILogger logger, string tool, string agent, string? callId, TimeSpan timeout);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Tool {Tool} from a tool source was skipped: {Reason}.")]
    public static partial void SourceToolSkipped(ILogger logger, string tool, string reason);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Warning, Message = "http_fetch refused {Url} for agent {Agent}: {Reason}")]
    public static partial void FetchRefused(ILogger logger, string url, string agent, string reason);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Debug, Message = "http_fetch {Method} {Url} for agent {Agent}: {Status} after {Hops} redirects.")]
    public static partial void FetchCompleted(ILogger logger, string method, string url, string agent, int status, int hops);

    [LoggerMessage(EventId = 2020, Level = LogLevel.Information, Message = "shell started process {ProcessId} for agent {Agent} (call {CallId}).")]
    public static partial void ShellStarted(ILogger logger, int processId, string agent, string? callId);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Warning, Message = "shell process {ProcessId} for agent {Agent} did not finish within {Timeout}; its process tree was killed.")]
    public static partial void ShellTimedOut(ILogger logger, int processId, string agent, TimeSpan timeout);

    [LoggerMessage(EventId = 2022, Level = LogLevel.Information, Message = "shell process {ProcessId} for agent {Agent} exited with code {ExitCode}.")]
    public static partial void ShellExited(ILogger logger, int processId, string agent, int exitCode);
}
