using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Durable.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>
/// Chooses the engine store from <c>KestrelCloud:Durable:Store</c> and the Functions-style storage settings. The one
/// place that knows the store projects.
/// </summary>
public static class DurableStoreRegistration
{
    /// <summary>The SQLite store (default without Azure Storage settings): a file in the data folder.</summary>
    public const string Sqlite = "sqlite";

    /// <summary>The in-memory store: nothing survives the process.</summary>
    public const string Memory = "memory";

    /// <summary>The Azure Storage store (default when <c>AzureWebJobsStorage</c> or its identity-based form is set).</summary>
    public const string AzureStorage = "azure-storage";

    /// <summary>The SQLite database file name inside the data folder.</summary>
    public const string SqliteFileName = "durable.db";

    /// <summary>
    /// The app setting naming the Azure Storage task hub (queues <c>{hub}-control</c>, <c>{hub}-activities</c>). A flat
    /// name, because the queue triggers' function.json resolve it as <c>%KestrelCloudTaskHub%</c> and binding
    /// expressions look app settings up by their exact name.
    /// </summary>
    public const string TaskHubSetting = "KestrelCloudTaskHub";

    /// <summary>The accepted store names.</summary>
    public static IReadOnlyList<string> KnownStores { get; } = new[] { Sqlite, Memory, AzureStorage };

    /// <summary>True when <paramref name="store"/> is empty (choose automatically) or names a known store (case-insensitive).</summary>
    public static bool IsKnownStore(string? store) =>
        string.IsNullOrWhiteSpace(store) || KnownStores.Contains(store.Trim(), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The store to use: the configured one when set; otherwise <see cref="AzureStorage"/> when
    /// <c>AzureWebJobsStorage</c> (a connection string, or <c>__blobServiceUri</c>/<c>__queueServiceUri</c>/<c>__accountName</c>)
    /// is set, else <see cref="Sqlite"/>. Throws <see cref="InvalidOperationException"/> for
    /// <see cref="AzureStorage"/> without those settings.
    /// </summary>
    public static string Resolve(string? configuredStore, Func<string, string?> getSetting)
    {
        ArgumentNullException.ThrowIfNull(getSetting);
        bool azureConfigured = AzureWebJobsStorageSettings.IsConfigured(getSetting);
        if (string.IsNullOrWhiteSpace(configuredStore))
        {
            return azureConfigured ? AzureStorage : Sqlite;
        }

        string store = configuredStore.Trim().ToLowerInvariant();
        if (store == AzureStorage && !azureConfigured)
        {
            throw new InvalidOperationException(
                "KestrelCloud:Durable:Store is 'azure-storage' but AzureWebJobsStorage is not set; set AzureWebJobsStorage to a connection string " +
                "(UseDevelopmentStorage=true for Azurite) or AzureWebJobsStorage__blobServiceUri and AzureWebJobsStorage__queueServiceUri.");
        }

        return store;
    }

    /// <summary>
    /// True when the app runs its own dispatcher. Under the Azure Functions host (<paramref name="underFunctionsHost"/>)
    /// with the Azure Storage store the host's queue triggers drive the work, so it does not; the host cannot see
    /// the work of the other stores, so with them the app dispatches itself even there.
    /// </summary>
    public static bool UsesInProcessDispatcher(string store, bool underFunctionsHost) =>
        !(underFunctionsHost && string.Equals(store, AzureStorage, StringComparison.OrdinalIgnoreCase));

    /// <summary>Registers the store named by <paramref name="store"/> (a value <see cref="Resolve"/> returned).</summary>
    public static IServiceCollection AddDurableStore(this IServiceCollection services, string store, string dataPath, Func<string, string?> getSetting)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(getSetting);
        switch (store.Trim().ToLowerInvariant())
        {
            case Memory:
                services.AddDurableTaskInMemoryStore();
                break;
            case Sqlite:
                AddSqlite(services, Path.Combine(dataPath, SqliteFileName));
                break;
            case AzureStorage:
                services.AddDurableTaskAzureStorageStore(getSetting, o =>
                {
                    if (ConfiguredTaskHub(getSetting) is { } hub)
                    {
                        o.TaskHubName = hub;
                    }
                });
                break;
            default:
                throw new InvalidOperationException(
                    $"KestrelCloud:Durable:Store must be one of {string.Join(", ", KnownStores)}; it is '{store}'.");
        }

        return services;
    }

    /// <summary>
    /// The task hub <see cref="TaskHubSetting"/> names, trimmed; null when it is not set (the store's default,
    /// <c>kestrelcloud</c>, applies). The engine's store and the agent stores both take their hub from here.
    /// </summary>
    public static string? ConfiguredTaskHub(Func<string, string?> getSetting)
    {
        ArgumentNullException.ThrowIfNull(getSetting);
        string? hub = getSetting(TaskHubSetting);
        return string.IsNullOrWhiteSpace(hub) ? null : hub.Trim();
    }

    /// <summary>The Azure Storage store when it is the one in use, else null (housekeeping and the queue triggers need it).</summary>
    public static AzureStorageOrchestrationStore? GetAzureStorageStore(IServiceProvider services) =>
        services.GetService<AzureStorageOrchestrationStore>();

    private static void AddSqlite(IServiceCollection services, string databasePath) =>
        services.AddDurableTaskSqliteStore(o => o.DatabasePath = databasePath);
}
