using Azure.Storage.Blobs;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Storage.AzureStorage;
using Kestrel.Cloud.Agents.Storage.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Kestrel.Cloud.Agents.Storage;

/// <summary>
/// Chooses where the agent runtime keeps its run event logs, sessions and used approval links. Each method registers
/// <see cref="IRunEventLog"/>, <see cref="ISessionStore"/> and <see cref="IApprovalLinkLedger"/> as singletons,
/// replacing any earlier registration of them, so the last call wins. A registered <see cref="TimeProvider"/> is used.
/// </summary>
public static class AgentStorageServiceCollectionExtensions
{
    /// <summary>Keeps everything in process memory: nothing survives the process, nothing is shared with other processes.</summary>
    public static IServiceCollection AddInMemoryAgentStores(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.ReplaceStores(
            sp => new InMemoryRunEventLog(sp.GetService<TimeProvider>()),
            sp => new InMemorySessionStore(sp.GetService<TimeProvider>()),
            sp => new InMemoryApprovalLinkLedger(sp.GetService<TimeProvider>()));
    }

    /// <summary>
    /// Keeps everything in the SQLite file <paramref name="databasePath"/> (created with its schema on first use;
    /// for example <c>&lt;DataPath&gt;/agents.db</c>). Registers the shared <see cref="SqliteAgentDatabase"/> too.
    /// </summary>
    public static IServiceCollection AddSqliteAgentStores(this IServiceCollection services, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        services.RemoveAll<SqliteAgentDatabase>();
        services.AddSingleton(sp => new SqliteAgentDatabase(databasePath, timeProvider: sp.GetService<TimeProvider>()));
        return services.ReplaceStores(
            sp => new SqliteRunEventLog(sp.GetRequiredService<SqliteAgentDatabase>()),
            sp => new SqliteSessionStore(sp.GetRequiredService<SqliteAgentDatabase>()),
            sp => new SqliteApprovalLinkLedger(sp.GetRequiredService<SqliteAgentDatabase>()));
    }

    /// <summary>
    /// Keeps everything in blob containers of the account <paramref name="clientFactory"/> returns, named after
    /// <paramref name="taskHub"/> (<c>{hub}-runs</c>, <c>{hub}-sessions</c>, <c>{hub}-approvals</c>, <c>{hub}-agents</c>),
    /// and replaces <see cref="IAgentWorkspace"/> with <see cref="BlobAgentWorkspace"/> on <c>{hub}-agents</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The task hub name is not 3-45 lowercase letters or digits.</exception>
    public static IServiceCollection AddAzureStorageAgentStores(this IServiceCollection services, Func<IServiceProvider, BlobServiceClient> clientFactory, string taskHub)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(clientFactory);
        AgentBlobStorage.ValidateTaskHub(taskHub);
        services.RemoveAll<AgentBlobStorage>();
        services.AddSingleton(sp => new AgentBlobStorage(
            clientFactory(sp) ?? throw new InvalidOperationException("The BlobServiceClient factory passed to AddAzureStorageAgentStores returned null; return a client for the storage account."),
            taskHub,
            sp.GetService<TimeProvider>()));
        services.RemoveAll<IAgentWorkspace>();
        services.AddSingleton<IAgentWorkspace>(sp => new BlobAgentWorkspace(sp.GetRequiredService<AgentBlobStorage>()));
        return services.ReplaceStores(
            sp => new BlobRunEventLog(sp.GetRequiredService<AgentBlobStorage>()),
            sp => new BlobSessionStore(sp.GetRequiredService<AgentBlobStorage>()),
            sp => new BlobApprovalLinkLedger(sp.GetRequiredService<AgentBlobStorage>()));
    }

    private static IServiceCollection ReplaceStores(
        this IServiceCollection services,
        Func<IServiceProvider, IRunEventLog> runEvents,
        Func<IServiceProvider, ISessionStore> sessions,
        Func<IServiceProvider, IApprovalLinkLedger> ledger)
    {
        services.RemoveAll<IRunEventLog>();
        services.RemoveAll<ISessionStore>();
        services.RemoveAll<IApprovalLinkLedger>();
        services.AddSingleton(runEvents);
        services.AddSingleton(sessions);
        services.AddSingleton(ledger);
        return services;
    }
}
