using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Api;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.Security;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>
/// The agents HTTP API: its services (<see cref="AddAgentsApi"/>) and routes (<see cref="MapAgentsApi"/>). Call it after
/// <c>AddKestrelAgents(configuration)</c>, which registers what the routes use: the <see cref="IAgentRunService"/>, the
/// workspace, the stores, the providers and the hosted service that creates the <c>default</c> agent.
/// </summary>
public static class AgentRegistration
{
    /// <summary>The folder of the local agent workspace inside the data folder.</summary>
    public const string AgentsFolder = "agents";

    /// <summary>
    /// Registers <see cref="ProviderStatus"/>, the signing key and <see cref="SignedApprovalLinkFactory"/>, the event
    /// stream writer, and the <c>agents</c> and <c>provider</c> health components (each only when not registered already).
    /// </summary>
    public static IServiceCollection AddAgentsApi(this IServiceCollection services, KestrelCloudOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        string dataPath = options.GetFullDataPath();
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
/// At start-up: loads (or generates) the approval signing key, so its file exists before the first link is made.
/// </summary>
internal sealed class AgentsApiInitializer : IHostedService
{
    public AgentsApiInitializer(ApprovalLinkSigner signer) => _ = signer;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
