using System.Globalization;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Kestrel.Cloud.Agents.Approvals;

namespace Kestrel.Cloud.Agents.Storage.AzureStorage;

/// <summary>
/// The approval-link ledger in <c>{hub}-approvals</c>: consuming a link creates an empty blob named after it with
/// If-None-Match *, which the service lets exactly one caller do, whichever process it runs in. The link's expiry
/// is the blob's metadata; <see cref="PurgeExpiredAsync"/> (called by housekeeping) removes entries expired more than
/// <see cref="IApprovalLinkLedger.PurgeGrace"/> ago.
/// </summary>
public sealed class BlobApprovalLinkLedger : IApprovalLinkLedger
{
    private const string ExpiresMetadata = "expiresticks";

    private readonly AgentBlobStorage storage;

    /// <summary>Creates the ledger on <paramref name="storage"/>.</summary>
    public BlobApprovalLinkLedger(AgentBlobStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        this.storage = storage;
    }

    /// <inheritdoc/>
    public async Task<bool> TryConsumeAsync(string linkId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(linkId);
        BlobContainerClient container = await this.storage.GetContainerAsync(this.storage.ApprovalsContainerName, cancellationToken).ConfigureAwait(false);
        BlobClient blob = container.GetBlobClient(AgentBlobStorage.EscapeId(linkId));
        try
        {
            await blob.UploadAsync(
                BinaryData.Empty,
                new BlobUploadOptions
                {
                    Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                    Metadata = new Dictionary<string, string> { [ExpiresMetadata] = expiresAt.UtcTicks.ToString(CultureInfo.InvariantCulture) },
                },
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (AgentBlobStorage.IsConditionFailure(ex))
        {
            return false;
        }
    }

    /// <inheritdoc/>
    /// <remarks>Lists the container with metadata and deletes the entries past the grace, one request each.</remarks>
    public async Task<int> PurgeExpiredAsync(int maxCount = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        BlobContainerClient container = await this.storage.GetContainerAsync(this.storage.ApprovalsContainerName, cancellationToken).ConfigureAwait(false);
        long before = (this.storage.TimeProvider.GetUtcNow() - IApprovalLinkLedger.PurgeGrace).UtcTicks;
        int deleted = 0;
        await foreach (BlobItem item in container.GetBlobsAsync(BlobTraits.Metadata, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (deleted >= maxCount)
            {
                break;
            }

            if (item.Metadata.TryGetValue(ExpiresMetadata, out string? text)
                && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long ticks) && ticks < before)
            {
                Response<bool> gone = await container.DeleteBlobIfExistsAsync(item.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
                deleted += gone.Value ? 1 : 0;
            }
        }

        return deleted;
    }
}
