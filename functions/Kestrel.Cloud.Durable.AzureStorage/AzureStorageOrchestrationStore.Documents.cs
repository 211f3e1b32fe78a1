using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>A document as read, with the ETag a conditional write must match.</summary>
internal sealed record StoredDocument(InstanceDocument Doc, ETag ETag);

/// <summary>Reading and writing instance documents and history segments.</summary>
public sealed partial class AzureStorageOrchestrationStore
{
    /// <summary>Largest block appended to a history segment (the service accepts 4 MiB on every API version).</summary>
    private const int MaxAppendBlockBytes = 4 * 1024 * 1024;

    /// <summary>An append blob holds at most 50,000 blocks; a new segment starts before that.</summary>
    private const int MaxBlocksPerSegment = 49_000;

    private async Task<StoredDocument?> ReadDocumentAsync(string instanceId, CancellationToken cancellationToken)
    {
        BlobClient blob = this.instancesContainer.GetBlobClient(StorageNames.InstanceBlob(instanceId));
        try
        {
            Response<BlobDownloadResult> response = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            InstanceDocument doc = StoreJson.Deserialize<InstanceDocument>(response.Value.Content.ToMemory().Span);
            doc.Validate(instanceId);
            return new StoredDocument(doc, response.Value.Details.ETag);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <summary>Writes a document if its ETag still matches (or, with no ETag, if none exists); null when it lost the race.</summary>
    private async Task<ETag?> TryWriteDocumentAsync(string instanceId, InstanceDocument doc, ETag? ifMatch, CancellationToken cancellationToken)
    {
        doc.Validate(instanceId);
        BlobClient blob = this.instancesContainer.GetBlobClient(StorageNames.InstanceBlob(instanceId));
        var options = new BlobUploadOptions
        {
            Conditions = ifMatch is { } etag ? new BlobRequestConditions { IfMatch = etag } : new BlobRequestConditions { IfNoneMatch = ETag.All },
            Metadata = Metadata(doc, this.Now),
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
        };
        try
        {
            Response<BlobContentInfo> response = await blob.UploadAsync(new BinaryData(StoreJson.Serialize(doc)), options, cancellationToken).ConfigureAwait(false);
            return response.Value.ETag;
        }
        catch (RequestFailedException ex) when (IsConditionFailure(ex))
        {
            return null;
        }
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the current document and writes it with If-Match; on a lost race
    /// re-reads and tries again, at most <see cref="AzureStorageStoreOptions.MaxConflictRetries"/> times.
    /// <paramref name="change"/> gets a fresh document on every attempt and returns the document to write (or
    /// null to write nothing) with a result. It must not have side effects outside the document.
    /// </summary>
    private async Task<(T Result, StoredDocument? Document)> MutateAsync<T>(
        string instanceId, Func<InstanceDocument?, (InstanceDocument? Write, T Result)> change, StoredDocument? initial, CancellationToken cancellationToken)
    {
        StoredDocument? current = initial ?? await this.ReadDocumentAsync(instanceId, cancellationToken).ConfigureAwait(false);
        for (int attempt = 1; ; attempt++)
        {
            (InstanceDocument? write, T result) = change(current?.Doc);
            if (write is null)
            {
                return (result, current);
            }

            ETag? etag = await this.TryWriteDocumentAsync(instanceId, write, current?.ETag, cancellationToken).ConfigureAwait(false);
            if (etag is { } written)
            {
                return (result, new StoredDocument(write, written));
            }

            if (attempt >= this.options.MaxConflictRetries)
            {
                Log.ConflictRetriesExhausted(this.logger, instanceId, attempt);
                throw new StoreConcurrencyException(
                    $"The document of instance '{instanceId}' changed under {attempt} consecutive writes (AzureStorageStoreOptions.MaxConflictRetries = {this.options.MaxConflictRetries}); " +
                    "the operation was not applied. Retry it, or raise MaxConflictRetries if many writers share one instance.");
            }

            // Real time on purpose: this backs off from other processes' I/O, not from engine time.
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 4 << Math.Min(attempt, 5))), cancellationToken).ConfigureAwait(false);
            current = await this.ReadDocumentAsync(instanceId, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> TryDeleteDocumentAsync(string instanceId, ETag etag, CancellationToken cancellationToken)
    {
        try
        {
            await this.instancesContainer.GetBlobClient(StorageNames.InstanceBlob(instanceId))
                .DeleteAsync(DeleteSnapshotsOption.IncludeSnapshots, new BlobRequestConditions { IfMatch = etag }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (IsConditionFailure(ex) || ex.Status == 404)
        {
            return false;
        }
    }

    /// <summary>
    /// Appends a step's events to the instance's history and returns the segment list to commit. History is
    /// JSON lines in append blobs; the document records each segment's committed length, so bytes appended by
    /// a step that then failed to commit are never read. The append is conditional on the committed length:
    /// when a failed step left bytes behind, the events go to a fresh segment instead.
    /// </summary>
    private async Task<List<HistorySegment>> AppendHistoryAsync(
        string instanceId, InstanceDocument doc, bool replace, IReadOnlyList<HistoryEvent> events, string lockToken, CancellationToken cancellationToken)
    {
        var segments = replace
            ? new List<HistorySegment>()
            : doc.History.Select(s => new HistorySegment { Blob = s.Blob, Length = s.Length, Count = s.Count, Blocks = s.Blocks }).ToList();
        if (events.Count == 0)
        {
            return segments;
        }

        byte[] data = SerializeEvents(events);
        int blocks = (data.Length + MaxAppendBlockBytes - 1) / MaxAppendBlockBytes;
        HistorySegment? last = segments.Count > 0 ? segments[^1] : null;
        if (last is not null && last.Blocks + blocks <= MaxBlocksPerSegment)
        {
            if (await this.TryAppendAsync(last.Blob, last.Length, data, cancellationToken).ConfigureAwait(false))
            {
                last.Length += data.Length;
                last.Count += events.Count;
                last.Blocks += blocks;
                return segments;
            }

            // Someone appended past the committed length: a step that did not commit, or a lock we lost.
            StoredDocument? now = await this.ReadDocumentAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (now is null || !string.Equals(now.Doc.LockToken, lockToken, StringComparison.Ordinal))
            {
                throw LockLost(instanceId);
            }
        }

        string name = StorageNames.NewHistorySegment(instanceId, doc.Incarnation);
        await this.historyContainer.GetAppendBlobClient(name).CreateAsync(
            new AppendBlobCreateOptions { Conditions = new AppendBlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken).ConfigureAwait(false);
        if (!await this.TryAppendAsync(name, 0, data, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"The new history segment '{name}' of instance '{instanceId}' was written by someone else; segment names are unique, so this is a bug.");
        }

        segments.Add(new HistorySegment { Blob = name, Length = data.Length, Count = events.Count, Blocks = blocks });
        return segments;
    }

    private async Task<bool> TryAppendAsync(string blobName, long position, byte[] data, CancellationToken cancellationToken)
    {
        AppendBlobClient blob = this.historyContainer.GetAppendBlobClient(blobName);
        for (int offset = 0; offset < data.Length; offset += MaxAppendBlockBytes)
        {
            int length = Math.Min(MaxAppendBlockBytes, data.Length - offset);
            using var stream = new MemoryStream(data, offset, length, writable: false);
            try
            {
                await blob.AppendBlockAsync(
                    stream,
                    new AppendBlobAppendBlockOptions { Conditions = new AppendBlobRequestConditions { IfAppendPositionEqual = position + offset } },
                    cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.Status == 412)
            {
                return false;
            }
        }

        return true;
    }

    private async Task<List<HistoryEvent>> ReadHistoryAsync(string instanceId, InstanceDocument doc, CancellationToken cancellationToken)
    {
        var reads = doc.History.Select(async segment =>
        {
            Response<BlobDownloadResult> response = await this.historyContainer.GetBlobClient(segment.Blob)
                .DownloadContentAsync(new BlobDownloadOptions { Range = new HttpRange(0, segment.Length) }, cancellationToken).ConfigureAwait(false);
            List<HistoryEvent> events = ParseEvents(response.Value.Content.ToMemory());
            if (events.Count != segment.Count)
            {
                throw new InvalidDataException(
                    $"History segment '{segment.Blob}' of instance '{instanceId}' holds {events.Count} events in its committed {segment.Length} bytes; the document says {segment.Count}.");
            }

            return events;
        }).ToList();
        List<HistoryEvent>[] parts = await Task.WhenAll(reads).ConfigureAwait(false);
        return parts.SelectMany(p => p).ToList();
    }

    /// <summary>Deletes every blob under a prefix of a container (best effort is the caller's choice).</summary>
    private async Task DeleteFolderAsync(BlobContainerClient container, string prefix, CancellationToken cancellationToken)
    {
        await foreach (BlobItem item in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken).ConfigureAwait(false))
        {
            await container.DeleteBlobIfExistsAsync(item.Name, DeleteSnapshotsOption.IncludeSnapshots, conditions: null, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeleteIncarnationBlobsAsync(string instanceId, string incarnation, CancellationToken cancellationToken)
    {
        string folder = StorageNames.IncarnationFolder(instanceId, incarnation);
        await this.DeleteFolderAsync(this.historyContainer, folder, cancellationToken).ConfigureAwait(false);
        await this.DeleteFolderAsync(this.payloadsContainer, folder, cancellationToken).ConfigureAwait(false);
    }

    private async Task TryDeleteSegmentsAsync(string instanceId, IEnumerable<HistorySegment> segments)
    {
        foreach (HistorySegment segment in segments)
        {
            try
            {
                await this.historyContainer.DeleteBlobIfExistsAsync(segment.Blob).ConfigureAwait(false);
            }
            catch (RequestFailedException ex)
            {
                Log.CleanupFailed(this.logger, instanceId, ex);
            }
        }
    }

    private static byte[] SerializeEvents(IReadOnlyList<HistoryEvent> events)
    {
        using var buffer = new MemoryStream();
        foreach (HistoryEvent e in events)
        {
            JsonSerializer.Serialize<HistoryEvent>(buffer, e, StoreJson.Options);
            buffer.WriteByte((byte)'\n');
        }

        return buffer.ToArray();
    }

    private static List<HistoryEvent> ParseEvents(ReadOnlyMemory<byte> data)
    {
        var events = new List<HistoryEvent>();
        ReadOnlySpan<byte> rest = data.Span;
        while (!rest.IsEmpty)
        {
            int end = rest.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? rest : rest[..end];
            if (!line.IsEmpty)
            {
                events.Add(StoreJson.Deserialize<HistoryEvent>(line));
            }

            rest = end < 0 ? ReadOnlySpan<byte>.Empty : rest[(end + 1)..];
        }

        return events;
    }

    private static Dictionary<string, string> Metadata(InstanceDocument doc, DateTime writtenAt)
    {
        var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["id"] = Uri.EscapeDataString(doc.Record.InstanceId),
            ["name"] = Uri.EscapeDataString(doc.Record.Name),
            ["status"] = doc.Record.Status.ToString(),
            ["created"] = doc.Record.CreatedAt.Ticks.ToString(CultureInfo.InvariantCulture),
            ["inc"] = doc.Incarnation,
            ["outbox"] = doc.Outbox.Count.ToString(CultureInfo.InvariantCulture),
            ["written"] = writtenAt.Ticks.ToString(CultureInfo.InvariantCulture),
        };

        // For the housekeeping sweep: when the earliest inbox message becomes visible.
        if (doc.Inbox.Count > 0)
        {
            metadata["next"] = doc.Inbox.Min(e => e.VisibleAt).Ticks.ToString(CultureInfo.InvariantCulture);
        }

        return metadata;
    }

    private static bool IsConditionFailure(RequestFailedException ex) =>
        ex.Status == 412 || (ex.Status == 409 && string.Equals(ex.ErrorCode, "BlobAlreadyExists", StringComparison.Ordinal));

    private static StoreConcurrencyException LockLost(string instanceId) => new(
        $"The lock on instance '{instanceId}' was lost (it expired and another worker took it, or the instance was purged); the step was not committed.");
}
