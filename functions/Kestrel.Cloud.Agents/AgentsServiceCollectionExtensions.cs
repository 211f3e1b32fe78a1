using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Files;
using Kestrel.Cloud.Agents.Tools.Http;
using Kestrel.Cloud.Agents.Tools.Shell;
using Kestrel.Cloud.Agents.Turns;
using Kestrel.Cloud.Durable;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents;

/// <summary>Registers agents in a service collection.</summary>
public static class AgentsServiceCollectionExtensions
{
    /// <summary>
    /// Adds agents: <see cref="AgentRuntimeOptions"/> (<c>KestrelCloud:Agents</c>, validated here), the model providers
    /// (<c>KestrelCloud:Models</c> plus the usual environment variables) behind <see cref="ChatClientFactory"/>, the
    /// built-in tools (<c>KestrelCloud:Tools</c>) and <c>spawn</c> in a <see cref="ToolRegistry"/>, the
    /// <see cref="IAgentRunService"/>, the <c>AgentTurn</c> orchestration (through <c>AddDurableTask</c>, which composes
    /// with the app's own call), a hosted service that creates the <c>default</c> agent at start, and in-memory
    /// sessions, run event logs and approval ledger unless other stores were registered (register them with
    /// <c>Replace</c>, before or after). The engine's store and dispatcher are registered by the app.
    /// </summary>
    /// <exception cref="ArgumentException">A setting in <c>KestrelCloud:Agents</c> or <c>KestrelCloud:Tools</c> is not valid (all listed).</exception>
    public static IServiceCollection AddKestrelAgents(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(AgentsMarker)))
        {
            return services;
        }

        services.AddSingleton<AgentsMarker>();
        var runtime = Bind<AgentRuntimeOptions>(configuration, AgentRuntimeOptions.SectionName);
        runtime.Validate();
        services.AddSingleton(Options.Create(runtime));

        var providers = Bind<ProvidersOptions>(configuration, ProvidersOptions.SectionName);
        // The usual variables (OPENAI_API_KEY, ...): from configuration first (a host's configuration includes the
        // environment and the command line), else from the process environment.
        providers.AddEnvironmentProviders(name => configuration[name] ?? Environment.GetEnvironmentVariable(name));
        services.TryAddSingleton(providers);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new ChatClientFactory(providers, sp.GetRequiredService<TimeProvider>()));

        var toolOptions = Bind<ToolRegistryOptions>(configuration, "KestrelCloud:Tools");
        toolOptions.Validate();
        services.AddSingleton(Options.Create(Bind<FileToolOptions>(configuration, "KestrelCloud:Tools:Files")));
        services.AddSingleton(Options.Create(Bind<HttpFetchOptions>(configuration, "KestrelCloud:Tools:HttpFetch")));
        services.AddSingleton(Options.Create(Bind<ShellToolOptions>(configuration, "KestrelCloud:Tools:Shell")));
        services.AddSingleton<IAgentTool>(sp => new FileReadTool(sp.GetRequiredService<IOptions<FileToolOptions>>()));
        services.AddSingleton<IAgentTool>(sp => new FileListTool(sp.GetRequiredService<IOptions<FileToolOptions>>()));
        services.AddSingleton<IAgentTool>(sp => new FileSearchTool(sp.GetRequiredService<IOptions<FileToolOptions>>()));
        services.AddSingleton<IAgentTool>(sp => new FileWriteTool(sp.GetRequiredService<IOptions<FileToolOptions>>()));
        services.AddSingleton<IAgentTool>(sp => new FileEditTool(sp.GetRequiredService<IOptions<FileToolOptions>>()));
        services.AddSingleton<IAgentTool>(sp => new HttpFetchTool(
            sp.GetRequiredService<IOptions<HttpFetchOptions>>(), sp.GetService<IHostResolver>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<HttpFetchTool>>()));
        services.AddSingleton<IAgentTool>(sp => new ShellTool(
            sp.GetRequiredService<IOptions<ShellToolOptions>>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<ShellTool>>()));
        services.AddSingleton<IAgentTool, SpawnTool>();
        // Tool sources (MCP servers, AddMcpTools) add tools whose set can change while the app runs.
        services.TryAddSingleton(sp => new ToolRegistry(
            sp.GetServices<IAgentTool>(), sp.GetServices<IToolSource>(), Options.Create(toolOptions), sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<ToolRegistry>>()));

        // The workspace when AddKestrelAgents composes alone (tests, other hosts). The server registers its own first
        // (AgentStoreRegistration.AddAgentStores, a blank WorkspacePath meaning the default there), so this one is unused there.
        string workspacePath = runtime.WorkspacePath ?? Path.Combine(configuration["KestrelCloud:DataPath"] ?? ".data", "agents");
        services.TryAddSingleton<IAgentWorkspace>(_ => new LocalAgentWorkspace(workspacePath));
        services.TryAddSingleton<ISessionStore>(sp => new InMemorySessionStore(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IRunEventLog>(sp => new InMemoryRunEventLog(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IApprovalLinkLedger, InMemoryApprovalLinkLedger>();
        services.TryAddSingleton<IAgentRunService>(sp => new AgentRunService(
            sp.GetRequiredService<DurableTaskClient>(),
            sp.GetRequiredService<IAgentWorkspace>(),
            sp.GetRequiredService<ChatClientFactory>(),
            sp.GetRequiredService<IOptions<AgentRuntimeOptions>>(),
            sp));
        services.TryAddSingleton<RunStreamRegistry>();
        services.AddHostedService<DefaultAgentInitializer>();
        services.AddDurableTask(registry => registry.AddAgentTurns());
        return services;
    }

    private static T Bind<T>(IConfiguration configuration, string section)
        where T : new()
    {
        var value = new T();
        configuration.GetSection(section).Bind(value);
        return value;
    }

    private sealed class AgentsMarker;

    /// <summary>Creates the <c>default</c> agent at start when it is missing (a deleted default comes back on the next start).</summary>
    private sealed class DefaultAgentInitializer(IAgentWorkspace workspace, IServiceProvider services) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            if (await workspace.EnsureDefaultAgentAsync(cancellationToken).ConfigureAwait(false))
            {
                Turns.Log.DefaultAgentCreated(services.GetService<ILoggerFactory>()?.CreateLogger("Kestrel.Cloud.Agents") ?? NullLogger.Instance);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
