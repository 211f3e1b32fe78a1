using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Kestrel.Cloud.Agents.Sessions;

namespace Kestrel.Cloud.Agents.Storage.AzureStorage;

/// <summary>
/// Sessions as JSON blobs in <c>{hub}-sessions</c>, named <c>&lt;hex(agent)&gt;/&lt;hex(key)&gt;</c> (lowercase hex of the
/// UTF-8 bytes, so the service's listing order is (agent, key) ordinal order). The blob's ETag is the session's ETag:
/// a create uploads with If-None-Match *, a replace with If-Match, so a lost race returns null. Message count and times
/// are also blob metadata, so listings need no downloads. Continuation tokens wrap the service's markers.
/// </summary>
public sealed class BlobSessionStore : ISessionStore
{
    private const string CountMetadata = "messagecount";
    private const string CreatedMetadata = "createdticks";
    private const string UpdatedMetadata = "updatedticks";

    private readonly AgentBlobStorage storage;

    /// <summary>Creates the store on <paramref name="storage"/>.</summary>
    public BlobSessionStore(AgentBlobStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        this.storage = storage;
    }

    /// <summary>The blob name of a session.</summary>
    public static string BlobName(string agent, string key) => $"{AgentBlobStorage.Hex(agent)}/{AgentBlobStorage.Hex(key)}";

    /// <inheritdoc/>
    public async Task<StoredSession?> GetAsync(string agent, string key, CancellationToken cancellationToken = default)
    {
        SessionRecords.Validate(agent, key);
        BlobClient blob = await this.BlobAsync(agent, key, cancellationToken).ConfigureAwait(false);
        try
        {
            Response<BlobDownloadResult> response = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            Document doc = response.Value.Content.ToObjectFromJson<Document>()
                ?? throw new InvalidDataException($"The session blob '{blob.Name}' is empty.");
            return new StoredSession(agent, key, doc.MessagesJson, doc.MessageCount, doc.AppliedRuns, doc.CreatedAt, doc.UpdatedAt, response.Value.Details.ETag.ToString());
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async Task<StoredSession?> SaveAsync(string agent, string key, string messagesJson, int messageCount, IReadOnlyList<string> appliedRuns, string? expectedETag, CancellationToken cancellationToken = default)
    {
        SessionRecords.Validate(agent, key);
        ArgumentNullException.ThrowIfNull(messagesJson);
        ArgumentNullException.ThrowIfNull(appliedRuns);
        ArgumentOutOfRangeException.ThrowIfNegative(messageCount);
        BlobClient blob = await this.BlobAsync(agent, key, cancellationToken).ConfigureAwait(false);
        DateTimeOffset now = this.storage.TimeProvider.GetUtcNow();
        DateTimeOffset createdAt = now;
        BlobRequestConditions conditions;
        if (expectedETag is null)
        {
            conditions = new BlobRequestConditions { IfNoneMatch = ETag.All };
        }
        else
        {
            // CreatedAt is kept from the stored copy; the upload below is conditional on the same ETag, so it cannot change in between.
            var etag = new ETag(expectedETag);
            try
            {
                Response<BlobProperties> properties = await blob.GetPropertiesAsync(new BlobRequestConditions { IfMatch = etag }, cancellationToken).ConfigureAwait(false);
                createdAt = properties.Value.Metadata.TryGetValue(CreatedMetadata, out string? created) ? Ticks(created) : now;
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 404)
            {
                return null;
            }

            conditions = new BlobRequestConditions { IfMatch = etag };
        }

        string[] runs = appliedRuns.ToArray();
        var doc = new Document(messagesJson, messageCount, runs, createdAt, now);
        try
        {
            Response<BlobContentInfo> uploaded = await blob.UploadAsync(
                BinaryData.FromObjectAsJson(doc),
                new BlobUploadOptions
                {
                    Conditions = conditions,
                    HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
                    Metadata = new Dictionary<string, string>
                    {
                        [CountMetadata] = messageCount.ToString(CultureInfo.InvariantCulture),
                        [CreatedMetadata] = createdAt.UtcTicks.ToString(CultureInfo.InvariantCulture),
                        [UpdatedMetadata] = now.UtcTicks.ToString(CultureInfo.InvariantCulture),
                    },
                },
                cancellationToken).ConfigureAwait(false);
            return new StoredSession(agent, key, messagesJson, messageCount, runs, createdAt, now, uploaded.Value.ETag.ToString());
        }
        catch (RequestFailedException ex) when (AgentBlobStorage.IsConditionFailure(ex) || ex.Status == 404)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async Task<(IReadOnlyList<SessionSummary> Sessions, string? ContinuationToken)> ListAsync(string? agent, int pageSize = 100, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        if (agent is not null)
        {
            Definitions.AgentName.Validate(agent, nameof(agent));
        }

        BlobContainerClient container = await this.storage.GetContainerAsync(this.storage.SessionsContainerName, cancellationToken).ConfigureAwait(false);
        string? prefix = agent is null ? null : AgentBlobStorage.Hex(agent) + "/";
        // The token wraps the service's marker with the listing's agent filter: a token from elsewhere, or from a
        // listing of another agent, is refused instead of being passed to the service.
        string? marker = null;
        if (continuationToken is not null)
        {
            string[] parts = SessionRecords.Decode(continuationToken, 2);
            if (parts[0] != (agent ?? string.Empty))
            {
                throw new ArgumentException("The continuation token is not one this store issued for this listing.", nameof(continuationToken));
            }

            marker = parts[1];
        }

        var page = new List<SessionSummary>();
        string? next = null;
        try
        {
            await foreach (Page<BlobItem> p in container.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, prefix, cancellationToken)
                .AsPages(marker, Math.Min(pageSize, 5000)).ConfigureAwait(false))
            {
                foreach (BlobItem item in p.Values)
                {
                    if (ToSummary(item) is { } summary)
                    {
                        page.Add(summary);
                    }
                }

                next = string.IsNullOrEmpty(p.ContinuationToken) ? null : SessionRecords.Encode(agent ?? string.Empty, p.ContinuationToken);
                break;
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 400)
        {
            throw new ArgumentException("The continuation token is not one this store issued.", nameof(continuationToken), ex);
        }

        return (page, next);
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteAsync(string agent, string key, CancellationToken cancellationToken = default)
    {
        SessionRecords.Validate(agent, key);
        BlobClient blob = await this.BlobAsync(agent, key, cancellationToken).ConfigureAwait(false);
        Response<bool> deleted = await blob.DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        return deleted.Value;
    }

    private static SessionSummary? ToSummary(BlobItem item)
    {
        string[] parts = item.Name.Split('/');
        if (parts.Length != 2 || AgentBlobStorage.FromHex(parts[0]) is not { } agent || AgentBlobStorage.FromHex(parts[1]) is not { } key)
        {
            return null;
        }

        IDictionary<string, string> metadata = item.Metadata ?? new Dictionary<string, string>();
        int count = metadata.TryGetValue(CountMetadata, out string? c) && int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : 0;
        DateTimeOffset created = metadata.TryGetValue(CreatedMetadata, out string? cr) ? Ticks(cr) : default;
        DateTimeOffset updated = metadata.TryGetValue(UpdatedMetadata, out string? up) ? Ticks(up) : default;
        return new SessionSummary(agent, key, count, created, updated);
    }

    private static DateTimeOffset Ticks(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long ticks) && ticks >= 0 && ticks <= DateTime.MaxValue.Ticks
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : default;

    private async Task<BlobClient> BlobAsync(string agent, string key, CancellationToken cancellationToken)
    {
        BlobContainerClient container = await this.storage.GetContainerAsync(this.storage.SessionsContainerName, cancellationToken).ConfigureAwait(false);
        return container.GetBlobClient(BlobName(agent, key));
    }

    private sealed record Document(string MessagesJson, int MessageCount, string[] AppliedRuns, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
}
