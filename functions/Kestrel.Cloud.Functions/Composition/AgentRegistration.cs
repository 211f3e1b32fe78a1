using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Functions.Api;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.Security;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>
/// The agents HTTP API: its services (<see cref="AddAgentsApi"/>) and routes (<see cref="MapAgentsApi"/>). Every store
/// and the run service are registered with TryAdd, so whatever the agent engine registered before (its
/// <c>AddKestrelAgents(configuration)</c>: the real <see cref="IAgentRunService"/>, durable event logs, session stores,
/// ledgers, a blob workspace) wins, and these defaults fill the gaps.
/// </summary>
public static class AgentRegistration
{
    /// <summary>The folder of the local agent workspace inside the data folder.</summary>
    public const string AgentsFolder = "agents";

    /// <summary>
    /// Registers, when not registered already: in-memory <see cref="IRunEventLog"/>, <see cref="ISessionStore"/> and
    /// <see cref="IApprovalLinkLedger"/>; a <see cref="LocalAgentWorkspace"/> at <c>&lt;DataPath&gt;/agents</c>;
    /// <see cref="ProvidersOptions"/> from <c>KestrelCloud:Models</c> and the environment; the signing key and
    /// <see cref="SignedApprovalLinkFactory"/>; and the
    /// <c>agents</c> and <c>provider</c> health components. At start-up the <c>default</c> agent is created when missing.
    /// </summary>
    public static IServiceCollection AddAgentsApi(this IServiceCollection services, IConfiguration configuration, KestrelCloudOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(options);
        string dataPath = options.GetFullDataPath();

        services.TryAddSingleton<IRunEventLog>(sp => new InMemoryRunEventLog(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<ISessionStore>(sp => new InMemorySessionStore(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IApprovalLinkLedger, InMemoryApprovalLinkLedger>();
        services.TryAddSingleton<IAgentWorkspace>(_ => new LocalAgentWorkspace(Path.Combine(dataPath, AgentsFolder)));
        services.TryAddSingleton(_ =>
        {
            var providers = new ProvidersOptions();
            configuration.GetSection(ProvidersOptions.SectionName).Bind(providers);
            // Read through configuration, which includes the environment, so command-line values work too.
            return providers.AddEnvironmentProviders(name => configuration[name]);
        });
        services.TryAddSingleton<ProviderStatus>();

        services.TryAddSingleton(sp => ApprovalSigningKey.CreateSigner(
            options.Approvals.SigningKey, dataPath, sp.GetRequiredService<ILoggerFactory>().CreateLogger(Log.Category)));
        services.TryAddSingleton<PublicBaseUrl>();
        services.TryAddSingleton<IApprovalLinkFactory, SignedApprovalLinkFactory>();
        services.TryAddSingleton<RunEventStream>();

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthComponent, AgentsHealthComponent>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthComponent, ProviderHealthComponent>());
        services.AddHostedService<AgentsApiInitializer>();
        return services;
    }

    /// <summary>Maps the agents, messages, runs, approvals (API key and signed links) and sessions routes.</summary>
    public static IEndpointRouteBuilder MapAgentsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapAgentEndpoints();
        endpoints.MapMessageEndpoints();
        endpoints.MapRunEndpoints();
        endpoints.MapApprovalEndpoints();
        endpoints.MapSessionEndpoints();
        return endpoints;
    }
}

/// <summary>
/// At start-up: loads (or generates) the approval signing key, so its file exists before the first link is made, and
/// creates the <c>default</c> agent when it is missing (a failure is logged, not fatal).
/// </summary>
internal sealed class AgentsApiInitializer : IHostedService
{
    private readonly IAgentWorkspace workspace;
    private readonly ILogger logger;

    public AgentsApiInitializer(IAgentWorkspace workspace, ApprovalLinkSigner signer, ILoggerFactory loggerFactory)
    {
        _ = signer;
        this.workspace = workspace;
        this.logger = loggerFactory.CreateLogger(Log.Category);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await this.workspace.EnsureDefaultAgentAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.DefaultAgentFailed(this.logger, ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
