using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable;

/// <summary>Registers the engine in a service collection.</summary>
public static class DurableTaskServiceCollectionExtensions
{
    /// <summary>
    /// Adds the engine: registry, options, <see cref="DurableTaskWorker"/>, <see cref="DurableTaskClient"/> and
    /// a hosted service that initializes the store. May be called several times; each call adds its
    /// registrations. A store (<see cref="IOrchestrationStore"/>) must be registered separately, and
    /// <see cref="AddDurableTaskDispatcher"/> runs the in-process dispatcher.
    /// </summary>
    public static IServiceCollection AddDurableTask(this IServiceCollection services, Action<DurableTaskRegistry>? registrations = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (registrations is not null)
        {
            services.AddSingleton(new RegistryConfiguration(registrations));
        }

        if (services.Any(d => d.ServiceType == typeof(DurableTaskWorker)))
        {
            return services;
        }

        services.AddOptions<DurableTaskOptions>().Validate(o =>
        {
            o.Validate();
            return true;
        });
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp =>
        {
            var registry = new DurableTaskRegistry();
            foreach (RegistryConfiguration c in sp.GetServices<RegistryConfiguration>())
            {
                c.Configure(registry);
            }

            return registry;
        });
        services.AddSingleton(sp => new DurableTaskWorker(
            sp.GetRequiredService<IOrchestrationStore>(),
            sp.GetRequiredService<DurableTaskRegistry>(),
            sp,
            sp.GetRequiredService<IOptions<DurableTaskOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>()));
        services.AddSingleton(sp => new DurableTaskClient(
            sp.GetRequiredService<IOrchestrationStore>(),
            sp.GetRequiredService<IOptions<DurableTaskOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<DurableTaskRegistry>()));
        services.AddHostedService<StoreInitializer>();
        return services;
    }

    /// <summary>Runs the in-process dispatcher (standalone mode). Not used under the Functions host, whose triggers drive the work.</summary>
    public static IServiceCollection AddDurableTaskDispatcher(this IServiceCollection services)
    {
        services.AddHostedService(sp => new DurableTaskWorkerService(
            sp.GetRequiredService<DurableTaskWorker>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>()));
        return services;
    }

    /// <summary>Uses the in-memory store (nothing survives the process).</summary>
    public static IServiceCollection AddDurableTaskInMemoryStore(this IServiceCollection services)
    {
        services.AddSingleton<IOrchestrationStore>(sp => new InMemoryOrchestrationStore(sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    private sealed record RegistryConfiguration(Action<DurableTaskRegistry> Configure);

    private sealed class StoreInitializer : IHostedService
    {
        private readonly IOrchestrationStore store;

        public StoreInitializer(IOrchestrationStore store) => this.store = store;

        public Task StartAsync(CancellationToken cancellationToken) => this.store.InitializeAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
