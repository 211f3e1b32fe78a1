using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// Connects the MCP servers when the host starts, waiting at most <see cref="McpServersOptions.StartupWait"/> so a
/// slow or broken server never holds up start-up (servers still connecting carry on in the background), and stops
/// them when the host stops.
/// </summary>
public sealed class McpToolsHostedService : IHostedService
{
    private readonly McpToolSource source;
    private readonly McpServersOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private Task? connecting;

    /// <summary>Creates the service.</summary>
    public McpToolsHostedService(McpToolSource source, IOptions<McpServersOptions> options, TimeProvider? timeProvider = null, ILogger<McpToolsHostedService>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        this.source = source;
        this.options = options.Value;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The background connection of every server (for tests and diagnostics).</summary>
    public Task Connecting => this.connecting ?? Task.CompletedTask;

    /// <inheritdoc/>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        this.connecting = this.source.ConnectAllAsync(this.stopping.Token);
        if (this.options.StartupWait <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await this.connecting.WaitAsync(this.options.StartupWait, this.timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            McpLog.StartupWaitElapsed(this.logger, this.options.StartupWait);
        }
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await this.stopping.CancelAsync().ConfigureAwait(false);
        if (this.connecting is not null)
        {
            try
            {
                await this.connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping while servers were still connecting.
            }
        }

        await this.source.DisposeAsync().ConfigureAwait(false);
    }
}
