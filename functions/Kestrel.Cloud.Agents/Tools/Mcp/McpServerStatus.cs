namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>Where an MCP server's connection stands.</summary>
public enum McpServerState
{
    /// <summary>Configured with <c>Enabled: false</c>; never started.</summary>
    Disabled,

    /// <summary>Not connected yet (no attempt made, or one is in progress).</summary>
    Connecting,

    /// <summary>Connected; its tools are offered.</summary>
    Connected,

    /// <summary>Was connected, but the connection dropped (the process exited, the HTTP session ended); the next call reconnects.</summary>
    Disconnected,

    /// <summary>The last attempt to connect failed; <see cref="McpServerStatus.Reason"/> says why. A later call tries again.</summary>
    Failed,
}

/// <summary>The health of one MCP server, for <c>/health</c> and logs.</summary>
/// <param name="Server">The server's configured name.</param>
/// <param name="Transport"><c>stdio</c> or <c>http</c>.</param>
/// <param name="State">Where the connection stands.</param>
/// <param name="ToolCount">How many tools the server offers (the last list received; 0 before the first connection).</param>
/// <param name="Reason">Why the server is failed or disconnected; null otherwise. Safe to show operators (no secrets: the command line and URL are not included).</param>
/// <param name="Since">When the server entered <paramref name="State"/>.</param>
public sealed record McpServerStatus(string Server, string Transport, McpServerState State, int ToolCount, string? Reason, DateTimeOffset Since)
{
    /// <summary>True when the server is connected or deliberately disabled.</summary>
    public bool IsHealthy => this.State is McpServerState.Connected or McpServerState.Disabled;
}
