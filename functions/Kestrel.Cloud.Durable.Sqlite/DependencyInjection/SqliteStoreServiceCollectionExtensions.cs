using Kestrel.Cloud.Durable.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.Sqlite;

/// <summary>Registers the SQLite store in a service collection.</summary>
public static class SqliteStoreServiceCollectionExtensions
{
    /// <summary>
    /// Uses the SQLite store (the embedded default) as the engine's <see cref="IOrchestrationStore"/>. The
    /// options are validated when the store is first resolved; the store takes its clock from the
    /// <see cref="TimeProvider"/> registered in the container (the system clock if none is).
    /// </summary>
    public static IServiceCollection AddDurableTaskSqliteStore(this IServiceCollection services, Action<SqliteStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SqliteStoreOptions>().Configure(configure).Validate(
            o =>
            {
                o.Validate();
                return true;
            });
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SqliteOrchestrationStore>(sp => new SqliteOrchestrationStore(
            sp.GetRequiredService<IOptions<SqliteStoreOptions>>().Value,
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IOrchestrationStore>(sp => sp.GetRequiredService<SqliteOrchestrationStore>());
        return services;
    }
}
