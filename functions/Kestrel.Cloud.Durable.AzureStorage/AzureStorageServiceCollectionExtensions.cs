using Kestrel.Cloud.Durable.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>Registers the Azure Storage store.</summary>
public static class AzureStorageServiceCollectionExtensions
{
    /// <summary>
    /// Uses the Azure Storage store: registers <see cref="AzureStorageOrchestrationStore"/> as the
    /// <see cref="IOrchestrationStore"/>, with options set by <paramref name="configure"/> and validated when the
    /// host starts (all errors together). To take the Functions-style settings, call
    /// <see cref="AzureWebJobsStorageSettings.TryApply"/> inside <paramref name="configure"/>.
    /// </summary>
    public static IServiceCollection AddDurableTaskAzureStorageStore(this IServiceCollection services, Action<AzureStorageStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<AzureStorageStoreOptions>()
            .Configure(configure)
            .Validate(o =>
            {
                o.Validate();
                return true;
            })
            .ValidateOnStart();
        services.AddSingleton(sp => new AzureStorageOrchestrationStore(
            sp.GetRequiredService<IOptions<AzureStorageStoreOptions>>().Value,
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IOrchestrationStore>(sp => sp.GetRequiredService<AzureStorageOrchestrationStore>());
        return services;
    }

    /// <summary>
    /// Uses the Azure Storage store configured from Functions-style settings read through
    /// <paramref name="getSetting"/> (for example <c>key =&gt; configuration[key]</c>); see
    /// <see cref="AzureWebJobsStorageSettings"/>. <paramref name="configure"/> may adjust the rest.
    /// </summary>
    public static IServiceCollection AddDurableTaskAzureStorageStore(
        this IServiceCollection services, Func<string, string?> getSetting, Action<AzureStorageStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(getSetting);
        return services.AddDurableTaskAzureStorageStore(o =>
        {
            AzureWebJobsStorageSettings.TryApply(o, getSetting);
            configure?.Invoke(o);
        });
    }
}
