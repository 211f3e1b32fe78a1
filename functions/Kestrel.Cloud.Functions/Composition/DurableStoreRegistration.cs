using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>Chooses the engine store from <c>KestrelCloud:Durable:Store</c>. The one place that knows the store projects.</summary>
public static class DurableStoreRegistration
{
    /// <summary>The SQLite store (default): a file in the data folder.</summary>
    public const string Sqlite = "sqlite";

    /// <summary>The in-memory store: nothing survives the process.</summary>
    public const string Memory = "memory";

    /// <summary>The SQLite database file name inside the data folder.</summary>
    public const string SqliteFileName = "durable.db";

    /// <summary>The accepted store names.</summary>
    public static IReadOnlyList<string> KnownStores { get; } = new[] { Sqlite, Memory };

    /// <summary>True when <paramref name="store"/> names a known store (case-insensitive).</summary>
    public static bool IsKnownStore(string? store) =>
        store is not null && KnownStores.Contains(store.Trim(), StringComparer.OrdinalIgnoreCase);

    /// <summary>Registers the store named by <paramref name="store"/>.</summary>
    public static IServiceCollection AddDurableStore(this IServiceCollection services, string store, string dataPath)
    {
        ArgumentNullException.ThrowIfNull(services);
        switch (store.Trim().ToLowerInvariant())
        {
            case Memory:
                services.AddDurableTaskInMemoryStore();
                break;
            case Sqlite:
                AddSqlite(services, Path.Combine(dataPath, SqliteFileName));
                break;
            default:
                throw new InvalidOperationException(
                    $"KestrelCloud:Durable:Store must be one of {string.Join(", ", KnownStores)}; it is '{store}'.");
        }

        return services;
    }

    private static void AddSqlite(IServiceCollection services, string databasePath) =>
        services.AddDurableTaskSqliteStore(o => o.DatabasePath = databasePath);
}
