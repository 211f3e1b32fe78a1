using Azure.Storage.Blobs;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Storage;
using Kestrel.Cloud.Durable.AzureStorage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>
/// Puts the agent runtime's state (run event logs, sessions, used approval links, and on Azure the agent workspace) in
/// the same kind of store as the engine, so a run's whole state survives what the engine's state survives.
/// </summary>
public static class AgentStoreRegistration
{
    /// <summary>The SQLite file of the agent stores inside the data folder (beside the engine's <c>durable.db</c>).</summary>
    public const string SqliteFileName = "agents.db";

    /// <summary>
    /// Registers the agent stores for <paramref name="store"/> (a value <see cref="DurableStoreRegistration.Resolve"/>
    /// returned): <c>memory</c> → in memory; <c>sqlite</c> → <c>&lt;DataPath&gt;/agents.db</c>; <c>azure-storage</c> →
    /// blob containers of the engine's task hub in the <c>AzureWebJobsStorage</c> account, including the agent
    /// workspace (<c>{hub}-agents</c>). Otherwise the workspace is the folder <c>KestrelCloud:Agents:WorkspacePath</c>,
    /// by default <c>&lt;DataPath&gt;/agents</c>.
    /// </summary>
    public static IServiceCollection AddAgentStores(this IServiceCollection services, string store, string dataPath, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        // KestrelCloudApp calls this before AddKestrelAgents, so in memory and sqlite modes this TryAdd is the workspace
        // (AddKestrelAgents' own default then does nothing); in azure-storage mode AddAzureStorageAgentStores replaces it.
        string? workspacePath = configuration["KestrelCloud:Agents:WorkspacePath"];
        services.TryAddSingleton<IAgentWorkspace>(_ => new LocalAgentWorkspace(
            string.IsNullOrWhiteSpace(workspacePath) ? Path.Combine(dataPath, AgentRegistration.AgentsFolder) : Path.GetFullPath(workspacePath)));
        switch (store.Trim().ToLowerInvariant())
        {
            case DurableStoreRegistration.Memory:
                return services.AddInMemoryAgentStores();
            case DurableStoreRegistration.Sqlite:
                return services.AddSqliteAgentStores(Path.Combine(dataPath, SqliteFileName));
            case DurableStoreRegistration.AzureStorage:
                return services.AddAzureStorageAgentStores(
                    CreateBlobClient,
                    DurableStoreRegistration.ConfiguredTaskHub(key => configuration[key]) ?? new AzureStorageStoreOptions().TaskHubName);
            default:
                throw new InvalidOperationException(
                    $"KestrelCloud:Durable:Store must be one of {string.Join(", ", DurableStoreRegistration.KnownStores)}; it is '{store}'.");
        }
    }

    // The account the engine's store uses, from the same AzureWebJobsStorage settings (connection string or identity).
    private static BlobServiceClient CreateBlobClient(IServiceProvider services) =>
        services.GetRequiredService<IOptions<AzureStorageStoreOptions>>().Value.CreateBlobServiceClient();
}
