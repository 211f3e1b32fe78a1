using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// The lock of an activity, on the store's clock: a small blob per activity message (beside its payload, in the
/// instance incarnation's folder of <c>{hub}-payloads</c>). Every change is conditional on the blob's ETag, so only
/// one worker holds an activity at a time, a completion or renewal after the lock was taken over changes nothing,
/// and lock expiry and abandon delays follow the store's <see cref="TimeProvider"/>. The queue message's visibility
/// is only the transport's hint of when to look again.
/// </summary>
internal sealed class ActivityLease
{
    /// <summary>The holder's token; null when released (abandoned).</summary>
    public string? Token { get; set; }

    /// <summary>When the holder's lock expires (store clock).</summary>
    public DateTime ExpiresAt { get; set; }

    /// <summary>After an abandon: not delivered again before this time (store clock).</summary>
    public DateTime NotBefore { get; set; }

    /// <summary>How many times the activity was handed to a worker.</summary>
    public int Deliveries { get; set; }

    /// <summary>The result is recorded; a copy of the message that is still queued is deleted unrun.</summary>
    public bool Done { get; set; }

    public ActivityLease Clone() => (ActivityLease)this.MemberwiseClone();
}

/// <summary>Activity leases (see <see cref="ActivityLease"/>).</summary>
public sealed partial class AzureStorageOrchestrationStore
{
    /// <summary>Most attempts to take a lease that another worker keeps changing before the message is left to it.</summary>
    private const int MaxLeaseAttempts = 3;

    private enum LeaseOutcome
    {
        /// <summary>This worker holds the lease now.</summary>
        Granted,

        /// <summary>Another worker holds it, or it was abandoned with a delay: available at <see cref="LeaseResult.Until"/>.</summary>
        Busy,

        /// <summary>The activity's result is recorded; the message is a leftover.</summary>
        Done,

        /// <summary>Other workers kept changing the lease; one of them has the message.</summary>
        Raced,
    }

    /// <summary>Takes the lease of an activity message if nobody holds it (or the holder's lock expired on the store's clock).</summary>
    private async Task<LeaseResult> TryTakeLeaseAsync(BlobClient blob, TimeSpan lockDuration, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < MaxLeaseAttempts; attempt++)
        {
            DateTime now = this.Now;
            var first = new ActivityLease { Token = NewId(), ExpiresAt = now + lockDuration, Deliveries = 1 };
            if (await TryWriteLeaseAsync(blob, first, null, cancellationToken).ConfigureAwait(false) is { } created)
            {
                return new LeaseResult(LeaseOutcome.Granted, first, created, null);
            }

            if (await ReadLeaseAsync(blob, cancellationToken).ConfigureAwait(false) is not { } found)
            {
                continue; // deleted in between: try to create it again
            }

            (ActivityLease lease, ETag etag) = found;

            if (lease.Done)
            {
                return new LeaseResult(LeaseOutcome.Done, lease, etag, null);
            }

            DateTime availableAt = lease.Token is not null ? lease.ExpiresAt : lease.NotBefore;
            if (availableAt > now)
            {
                return new LeaseResult(LeaseOutcome.Busy, lease, etag, availableAt);
            }

            var next = new ActivityLease { Token = NewId(), ExpiresAt = now + lockDuration, Deliveries = lease.Deliveries + 1 };
            if (await TryWriteLeaseAsync(blob, next, etag, cancellationToken).ConfigureAwait(false) is { } written)
            {
                return new LeaseResult(LeaseOutcome.Granted, next, written, null);
            }
        }

        return new LeaseResult(LeaseOutcome.Raced, null, default, null);
    }

    /// <summary>Writes a lease if its ETag still matches (with none: if no lease exists); null when the condition failed.</summary>
    private static async Task<ETag?> TryWriteLeaseAsync(BlobClient blob, ActivityLease lease, ETag? ifMatch, CancellationToken cancellationToken)
    {
        var options = new BlobUploadOptions
        {
            Conditions = ifMatch is { } etag ? new BlobRequestConditions { IfMatch = etag } : new BlobRequestConditions { IfNoneMatch = ETag.All },
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
        };
        try
        {
            Response<BlobContentInfo> response = await blob.UploadAsync(new BinaryData(StoreJson.Serialize(lease)), options, cancellationToken).ConfigureAwait(false);
            return response.Value.ETag;
        }
        catch (RequestFailedException ex) when (IsConditionFailure(ex) || ex.Status == 404)
        {
            return null;
        }
    }

    private static async Task<(ActivityLease Lease, ETag ETag)?> ReadLeaseAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        try
        {
            Response<BlobDownloadResult> response = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return (StoreJson.Deserialize<ActivityLease>(response.Value.Content.ToMemory().Span), response.Value.Details.ETag);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    private async Task TryDeleteLeaseAsync(BlobClient blob, string instanceId)
    {
        try
        {
            await blob.DeleteIfExistsAsync().ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            Log.CleanupFailed(this.logger, instanceId, ex);
        }
    }

    private sealed record LeaseResult(LeaseOutcome Outcome, ActivityLease? Lease, ETag ETag, DateTime? Until);
}
