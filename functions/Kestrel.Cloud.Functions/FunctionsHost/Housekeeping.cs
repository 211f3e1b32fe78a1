using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Functions.Composition;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Functions.FunctionsHost;

/// <summary>What one housekeeping run did.</summary>
/// <param name="WakeUpsSent">Instances the Azure Storage sweep woke again (0 with other stores).</param>
/// <param name="InstancesPurged">Finished instances purged for being older than the retention.</param>
/// <param name="ApprovalLinksPurged">Entries of used approval links forgotten for having expired more than an hour ago.</param>
internal sealed record HousekeepingResult(int WakeUpsSent, int InstancesPurged, int ApprovalLinksPurged);

/// <summary>
/// Housekeeping, run by the <c>Housekeeping</c> timer trigger under the Functions host: wakes instances whose wake-up was
/// lost (Azure Storage store, <see cref="AzureStorageOrchestrationStore.SweepAsync"/>), purges finished instances
/// created before <see cref="KestrelCloudHousekeepingOptions.CompletedInstanceRetention"/>, and has the approval-link
/// ledger forget entries that expired more than an hour ago (<see cref="IApprovalLinkLedger.PurgeExpiredAsync"/>; on
/// Azure the <c>{hub}-approvals</c> container would otherwise keep one blob per used link forever).
/// </summary>
internal sealed class Housekeeping
{
    private static readonly OrchestrationRuntimeStatus[] Finished =
        [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated];

    private readonly IOrchestrationStore store;
    private readonly IApprovalLinkLedger approvalLinks;
    private readonly KestrelCloudHousekeepingOptions options;
    private readonly TimeProvider timeProvider;

    public Housekeeping(IOrchestrationStore store, IApprovalLinkLedger approvalLinks, IOptions<KestrelCloudOptions> options, TimeProvider timeProvider)
    {
        this.store = store;
        this.approvalLinks = approvalLinks;
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

        int linksPurged = await this.approvalLinks.PurgeExpiredAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        return new HousekeepingResult(woken, purged, linksPurged);
    }
}

/// <summary>
/// Standalone with the Azure Storage store: runs <see cref="Housekeeping"/> every
/// <see cref="KestrelCloudHousekeepingOptions.Interval"/> (under the Functions host the timer trigger does it).
/// </summary>
internal sealed class HousekeepingService : Microsoft.Extensions.Hosting.BackgroundService
{
    private readonly Housekeeping housekeeping;
    private readonly TimeSpan interval;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;

    public HousekeepingService(Housekeeping housekeeping, IOptions<KestrelCloudOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        this.housekeeping = housekeeping;
        this.interval = options.Value.Housekeeping.Interval;
        this.timeProvider = timeProvider;
        this.logger = loggerFactory.CreateLogger(Diagnostics.Log.Category);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(this.interval, this.timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    HousekeepingResult done = await this.housekeeping.RunAsync(stoppingToken).ConfigureAwait(false);
                    Diagnostics.Log.HousekeepingDone(this.logger, done.WakeUpsSent, done.InstancesPurged, done.ApprovalLinksPurged);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    Diagnostics.Log.HousekeepingFailed(this.logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}
