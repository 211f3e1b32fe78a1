using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// Source-generated MCP logs; event ids 2030-2049 (inside the tools' range). The server's logs use numbers in the same
/// range, so an id names an event only together with its category (the logging class).
/// </summary>
internal static partial class McpLog
{
    [LoggerMessage(EventId = 2030, Level = LogLevel.Information, Message = "MCP server {Server} connected over {Transport}; it offers {ToolCount} tools.")]
    public static partial void Connected(ILogger logger, string server, string transport, int toolCount);

    [LoggerMessage(EventId = 2031, Level = LogLevel.Warning, Message = "MCP server {Server} could not be connected: {Reason}")]
    public static partial void ConnectFailed(ILogger logger, string server, string reason, Exception? exception);

    [LoggerMessage(EventId = 2032, Level = LogLevel.Warning, Message = "MCP server {Server} disconnected: {Reason}. The next call reconnects.")]
    public static partial void Disconnected(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 2033, Level = LogLevel.Information, Message = "MCP server {Server} changed its tools; it now offers {ToolCount}.")]
    public static partial void ToolsChanged(ILogger logger, string server, int toolCount);

    [LoggerMessage(EventId = 2034, Level = LogLevel.Warning, Message = "MCP servers still connecting after {Wait}; start-up goes on and they connect in the background.")]
    public static partial void StartupWaitElapsed(ILogger logger, TimeSpan wait);

    [LoggerMessage(EventId = 2035, Level = LogLevel.Debug, Message = "MCP server {Server} stderr: {Line}")]
    public static partial void StandardError(ILogger logger, string server, string line);
}
