using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// The tools of every configured MCP server, as an <see cref="IToolSource"/> for <see cref="ToolRegistry"/>. Holds one
/// <see cref="McpServerConnection"/> per server (disabled servers included, so their status shows), connects them
/// (<see cref="ConnectAllAsync"/>, called at start-up by <see cref="McpToolsHostedService"/>) and reports their
/// health (<see cref="GetStatus"/>). Disposing it stops every server.
/// </summary>
public sealed class McpToolSource : IToolSource, IAsyncDisposable, IDisposable
{
    private readonly McpServerConnection[] connections;

    /// <summary>Creates the source; the options are validated here (all problems in one <see cref="ArgumentException"/>).</summary>
    public McpToolSource(IOptions<McpServersOptions> options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        McpServersOptions value = options.Value;
        value.Validate();
        this.connections = value.Servers
            .OrderBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => new McpServerConnection(s.Key, s.Value, value, timeProvider, loggerFactory))
            .ToArray();
    }

    /// <summary>Every configured server's connection, by name order.</summary>
    public IReadOnlyList<McpServerConnection> Connections => this.connections;

    /// <summary>The connection of the server named <paramref name="name"/>, or null.</summary>
    public McpServerConnection? GetConnection(string name) =>
        this.connections.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.Ordinal));

    /// <inheritdoc/>
    public IReadOnlyList<IAgentTool> GetTools() => this.connections.SelectMany(c => c.Tools).ToList<IAgentTool>();

    /// <summary>The status of every server, by name order (for <c>/health</c>).</summary>
    public IReadOnlyList<McpServerStatus> GetStatus() => this.connections.Select(c => c.Status).ToList();

    /// <summary>
    /// Connects every enabled server in parallel, each within its own ConnectTimeout. A server that fails does not
    /// fail the others or this call; its status says why. Throws only when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public Task ConnectAllAsync(CancellationToken cancellationToken = default) =>
        Task.WhenAll(this.connections.Select(c => c.ConnectAsync(cancellationToken)));

    /// <summary>Stops every server (blocking; prefer <see cref="DisposeAsync"/>).</summary>
    public void Dispose() => this.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Stops every server.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (McpServerConnection connection in this.connections)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
