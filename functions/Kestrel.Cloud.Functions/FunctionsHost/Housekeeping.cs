using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Functions.Composition;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Functions.FunctionsHost;

/// <summary>What one housekeeping run did.</summary>
/// <param name="WakeUpsSent">Instances the Azure Storage sweep woke again (0 with other stores).</param>
/// <param name="InstancesPurged">Finished instances purged for being older than the retention.</param>
internal sealed record HousekeepingResult(int WakeUpsSent, int InstancesPurged);

/// <summary>
/// Housekeeping, run by the <c>Housekeeping</c> timer trigger under the Functions host: wakes instances whose wake-up was
/// lost (Azure Storage store, <see cref="AzureStorageOrchestrationStore.SweepAsync"/>) and purges finished instances
/// created before <see cref="KestrelCloudHousekeepingOptions.CompletedInstanceRetention"/>.
/// </summary>
internal sealed class Housekeeping
{
    private static readonly OrchestrationRuntimeStatus[] Finished =
        [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated];

    private readonly IOrchestrationStore store;
    private readonly KestrelCloudHousekeepingOptions options;
    private readonly TimeProvider timeProvider;

    public Housekeeping(IOrchestrationStore store, IOptions<KestrelCloudOptions> options, TimeProvider timeProvider)
    {
        this.store = store;
        this.options = options.Value.Housekeeping;
        this.timeProvider = timeProvider;
    }

    /// <summary>Runs once.</summary>
    public async Task<HousekeepingResult> RunAsync(CancellationToken cancellationToken)
    {
        int woken = 0;
        if (this.store is AzureStorageOrchestrationStore azure)
        {
            woken = await azure.SweepAsync(this.options.SweepMinimumAge, cancellationToken).ConfigureAwait(false);
        }

        int purged = 0;
        if (this.options.CompletedInstanceRetention > TimeSpan.Zero)
        {
            DateTime cutoff = this.timeProvider.GetUtcNow().UtcDateTime - this.options.CompletedInstanceRetention;
            purged = await this.store.PurgeInstancesAsync(new PurgeInstancesFilter(CreatedTo: cutoff, Statuses: Finished), cancellationToken).ConfigureAwait(false);
        }

        return new HousekeepingResult(woken, purged);
    }
}
