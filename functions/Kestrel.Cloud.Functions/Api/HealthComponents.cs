using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>The state of one health component.</summary>
public enum HealthState
{
    /// <summary>Working.</summary>
    Healthy,

    /// <summary>Not working: the overall status becomes Unhealthy and <c>/api/health</c> answers 503.</summary>
    Unhealthy,

    /// <summary>
    /// Not set up (for example no model provider). Reported, but the server still serves everything else, so the
    /// overall status is not changed by it.
    /// </summary>
    NotConfigured,
}

/// <summary>What one component reports: its state and the details shown next to it (never error text).</summary>
/// <param name="State">The state.</param>
/// <param name="Details">Extra members of the component's object, e.g. <c>reachable</c>.</param>
public sealed record HealthComponentReport(HealthState State, IReadOnlyDictionary<string, object?> Details);

/// <summary>
/// A component of <c>GET /api/health</c>. Every registration in DI is asked on each health request (add one with
/// <c>services.TryAddEnumerable(ServiceDescriptor.Singleton&lt;IHealthComponent, McpHealthComponent&gt;())</c>); its
/// report appears under <c>components.{Name}</c>. A check must not throw and should finish within a few seconds.
/// </summary>
public interface IHealthComponent
{
    /// <summary>The member name under <c>components</c>, e.g. <c>mcp</c>.</summary>
    string Name { get; }

    /// <summary>Checks the component.</summary>
    Task<HealthComponentReport> CheckAsync(CancellationToken cancellationToken);
}

/// <summary><c>agents</c>: the agent workspace answers a listing within 5 seconds.</summary>
public sealed class AgentsHealthComponent : IHealthComponent
{
    /// <summary>How long the check waits for the workspace.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    private readonly IAgentWorkspace workspace;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;

    /// <summary>Creates the check.</summary>
    public AgentsHealthComponent(IAgentWorkspace workspace, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        this.workspace = workspace;
        this.timeProvider = timeProvider;
        this.logger = loggerFactory.CreateLogger(Log.Category);
    }

    /// <inheritdoc />
    public string Name => "agents";

    /// <inheritdoc />
    public async Task<HealthComponentReport> CheckAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(ProbeTimeout, this.timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            IReadOnlyList<string> names = await this.workspace.ListAgentNamesAsync(linked.Token);
            return new HealthComponentReport(HealthState.Healthy, new Dictionary<string, object?> { ["reachable"] = true, ["count"] = names.Count });
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.AgentWorkspaceUnreachable(this.logger, ex);
            return new HealthComponentReport(HealthState.Unhealthy, new Dictionary<string, object?> { ["reachable"] = false });
        }
    }
}

/// <summary>
/// <c>provider</c>: Healthy with the configured provider names, or NotConfigured with the environment variables to set.
/// </summary>
public sealed class ProviderHealthComponent : IHealthComponent
{
    private readonly ProviderStatus status;

    /// <summary>Creates the check.</summary>
    public ProviderHealthComponent(ProviderStatus status) => this.status = status;

    /// <inheritdoc />
    public string Name => "provider";

    /// <inheritdoc />
    public Task<HealthComponentReport> CheckAsync(CancellationToken cancellationToken)
    {
        if (this.status.IsConfigured)
        {
            return Task.FromResult(new HealthComponentReport(HealthState.Healthy, new Dictionary<string, object?>
            {
                ["configured"] = true,
                ["providers"] = this.status.ProviderNames,
                ["defaultProvider"] = this.status.DefaultProviderName,
            }));
        }

        ProviderNotConfiguredException missing = ChatClientFactory.NotConfigured(null);
        return Task.FromResult(new HealthComponentReport(HealthState.NotConfigured, new Dictionary<string, object?>
        {
            ["configured"] = false,
            ["environmentVariables"] = missing.EnvironmentVariables,
            ["detail"] = missing.Message,
        }));
    }
}

/// <summary>
/// <c>mcp</c>: each configured MCP server's state and tool count. NotConfigured when no server is declared; Unhealthy
/// when any enabled server failed to connect or dropped its connection (the reason says why, without the command line
/// or URL); a server still connecting at start-up counts as healthy.
/// </summary>
public sealed class McpHealthComponent : IHealthComponent
{
    private readonly Kestrel.Cloud.Agents.Tools.Mcp.McpToolSource source;

    /// <summary>Creates the check.</summary>
    public McpHealthComponent(Kestrel.Cloud.Agents.Tools.Mcp.McpToolSource source) => this.source = source;

    /// <inheritdoc />
    public string Name => "mcp";

    /// <inheritdoc />
    public Task<HealthComponentReport> CheckAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<Kestrel.Cloud.Agents.Tools.Mcp.McpServerStatus> servers = this.source.GetStatus();
        var details = new Dictionary<string, object?>
        {
            ["servers"] = servers.Select(s => new Dictionary<string, object?>
            {
                ["name"] = s.Server,
                ["transport"] = s.Transport,
                ["state"] = s.State.ToString(),
                ["tools"] = s.ToolCount,
                ["reason"] = s.Reason,
                ["since"] = s.Since,
            }).ToList(),
        };
        HealthState state = servers.Count == 0
            ? HealthState.NotConfigured
            : servers.All(s => s.IsHealthy || s.State == Kestrel.Cloud.Agents.Tools.Mcp.McpServerState.Connecting)
                ? HealthState.Healthy
                : HealthState.Unhealthy;
        return Task.FromResult(new HealthComponentReport(state, details));
    }
}
