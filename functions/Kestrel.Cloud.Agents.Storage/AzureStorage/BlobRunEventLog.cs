using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Kestrel.Cloud.Agents.Runs;

namespace Kestrel.Cloud.Agents.Storage.AzureStorage;

/// <summary>
/// Run event logs as append blobs in <c>{hub}-runs</c>, one per run (<c>&lt;escaped run id&gt;.jsonl</c>), one JSON line
/// per event (sequence, key, type, timestamp, data). A batch is one appended block, so it lands whole or not at all.
/// The block is appended only if the blob is still the one read (If-Match on its ETag and an append-position
/// condition equal to its length): a writer that lost a race re-reads, de-duplicates again and retries, so sequence
/// numbers stay 1..n without gaps and no key appears twice, from any number of processes. A batch may be at most
/// <see cref="MaxBatchSizeBytes"/> once serialized (the service's largest append block). The last version read of up
/// to <see cref="MaxCachedRuns"/> runs is kept in memory and re-validated with If-None-Match on every read, so reading
/// a log that has not changed costs a 304 without a body.
/// </summary>
public sealed class BlobRunEventLog : IRunEventLog
{
    /// <summary>Largest serialized batch: one append block.</summary>
    public const int MaxBatchSizeBytes = 4 * 1024 * 1024;

    /// <summary>Most attempts of one append when other writers keep winning.</summary>
    public const int MaxAppendAttempts = 50;

    /// <summary>Most runs whose last read version is kept in memory.</summary>
    public const int MaxCachedRuns = 256;

    /// <summary>Largest log kept in memory, in bytes; larger ones are downloaded whole on every read.</summary>
    public const int MaxCachedLogSizeBytes = 4 * 1024 * 1024;

    private static readonly JsonSerializerOptions LineOptions = new(JsonSerializerDefaults.General);

    private readonly AgentBlobStorage storage;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Snapshot> cache = new(StringComparer.Ordinal);

    /// <summary>Creates the log on <paramref name="storage"/>.</summary>
    public BlobRunEventLog(AgentBlobStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        this.storage = storage;
    }

    /// <summary>The blob name of a run's log.</summary>
    public static string BlobName(string runId) => AgentBlobStorage.EscapeId(runId) + ".jsonl";

    /// <inheritdoc/>
    public async Task<long> AppendAsync(string runId, IReadOnlyList<NewRunEvent> events, CancellationToken cancellationToken = default)
    {
        RunEventBatch.CheckAll(runId, events);
        AppendBlobClient blob = await this.BlobAsync(runId, cancellationToken).ConfigureAwait(false);
        for (int attempt = 1; attempt <= MaxAppendAttempts; attempt++)
        {
            Snapshot current = await this.LoadAsync(runId, blob, cancellationToken).ConfigureAwait(false);
            var keys = new HashSet<string>(current.Events.Select(e => e.Key), StringComparer.Ordinal);
            List<NewRunEvent> fresh = RunEventBatch.Fresh(events, keys.Contains);
            long count = current.Events.Count;
            RunEventBatch.EnsureRoom(runId, count, fresh.Count);

            if (fresh.Count == 0)
            {
                return count;
            }

            DateTimeOffset now = this.storage.TimeProvider.GetUtcNow();
            var text = new StringBuilder();
            long seq = count;
            foreach (NewRunEvent e in fresh)
            {
                text.Append(JsonSerializer.Serialize(new StoredRunEvent(++seq, e.Key, e.Type, now, e.Data), LineOptions)).Append('\n');
            }

            byte[] block = Encoding.UTF8.GetBytes(text.ToString());
            if (block.Length > MaxBatchSizeBytes)
            {
                throw new ArgumentException(
                    $"The batch for run {runId} is {block.Length} bytes once serialized; one append may be at most {MaxBatchSizeBytes} bytes. Append the events in smaller batches.",
                    nameof(events));
            }

            ETag? etag = current.ETag;
            if (etag is null)
            {
                etag = await TryCreateAsync(blob, cancellationToken).ConfigureAwait(false);
                if (etag is null)
                {
                    await Backoff(attempt, cancellationToken).ConfigureAwait(false);
                    continue; // created by another writer meanwhile: read it
                }
            }

            try
            {
                using var stream = new MemoryStream(block, writable: false);
                Response<BlobAppendInfo> appended = await blob.AppendBlockAsync(
                    stream,
                    new AppendBlobAppendBlockOptions { Conditions = new AppendBlobRequestConditions { IfMatch = etag, IfAppendPositionEqual = current.Length } },
                    cancellationToken).ConfigureAwait(false);

                // The block landed right after the version read, so the new version is exactly that plus the block.
                var events2 = new List<StoredRunEvent>(current.Events);
                long next = count;
                events2.AddRange(fresh.Select(e => new StoredRunEvent(++next, e.Key, e.Type, now, e.Data.Clone())));
                this.Remember(runId, new Snapshot(events2, current.Length + block.Length, appended.Value.ETag));
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 404)
            {
                // Another writer appended (or the log was deleted) since the read: read again.
                this.cache.TryRemove(runId, out _);
                await Backoff(attempt, cancellationToken).ConfigureAwait(false);
                continue;
            }

            this.storage.Signals.Notify(runId);
            return seq;
        }

        throw new InvalidOperationException(
            $"The events of run {runId} could not be appended: other writers changed the log {MaxAppendAttempts} times in a row. Retry the append.");
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<RunEvent>> ReadAsync(string runId, long afterSequence, int maxCount = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        AppendBlobClient blob = await this.BlobAsync(runId, cancellationToken).ConfigureAwait(false);
        Snapshot current = await this.LoadAsync(runId, blob, cancellationToken).ConfigureAwait(false);
        return current.Events.Where(e => e.Sequence > afterSequence).Take(maxCount).Select(e => e.ToRunEvent()).ToList();
    }

    /// <inheritdoc/>
    public async Task WaitAsync(string runId, long afterSequence, TimeSpan maxWait, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        cancellationToken.ThrowIfCancellationRequested();
        using RunEventSignals.Lease lease = this.storage.Signals.Acquire(runId);
        AppendBlobClient blob = await this.BlobAsync(runId, cancellationToken).ConfigureAwait(false);
        Snapshot current = await this.LoadAsync(runId, blob, cancellationToken).ConfigureAwait(false);
        if (current.Events.Count > afterSequence)
        {
            return;
        }

        await RunEventSignals.WaitAsync(lease.Task, maxWait, this.storage.TimeProvider, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteAsync(string runId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        AppendBlobClient blob = await this.BlobAsync(runId, cancellationToken).ConfigureAwait(false);
        this.cache.TryRemove(runId, out _);
        Response<bool> deleted = await blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken).ConfigureAwait(false);
        return deleted.Value;
    }

    private static async Task<ETag?> TryCreateAsync(AppendBlobClient blob, CancellationToken cancellationToken)
    {
        try
        {
            Response<BlobContentInfo> created = await blob.CreateAsync(
                new AppendBlobCreateOptions { Conditions = new AppendBlobRequestConditions { IfNoneMatch = ETag.All } },
                cancellationToken).ConfigureAwait(false);
            return created.Value.ETag;
        }
        catch (RequestFailedException ex) when (AgentBlobStorage.IsConditionFailure(ex))
        {
            return null;
        }
    }

    private async Task<Snapshot> LoadAsync(string runId, AppendBlobClient blob, CancellationToken cancellationToken)
    {
        this.cache.TryGetValue(runId, out Snapshot? cached);
        try
        {
            // With a cached version, the service answers 304 (no body) while the log is unchanged.
            Response<BlobDownloadResult> response = await blob.DownloadContentAsync(
                new BlobDownloadOptions { Conditions = cached?.ETag is { } known ? new BlobRequestConditions { IfNoneMatch = known } : null },
                cancellationToken).ConfigureAwait(false);
            if (response.GetRawResponse().Status == 304 && cached is not null)
            {
                return cached; // unchanged since the cached version (the SDK returns a response without a value)
            }

            ReadOnlyMemory<byte> content = response.Value.Content.ToMemory();
            var events = new List<StoredRunEvent>();
            int start = 0;
            ReadOnlySpan<byte> span = content.Span;
            while (start < span.Length)
            {
                int end = span[start..].IndexOf((byte)'\n');
                int stop = end < 0 ? span.Length : start + end;
                if (stop > start)
                {
                    events.Add(JsonSerializer.Deserialize<StoredRunEvent>(span[start..stop], LineOptions)
                        ?? throw new InvalidDataException($"The run log blob '{blob.Name}' holds an empty line."));
                }

                start = stop + 1;
            }

            for (int i = 0; i < events.Count; i++)
            {
                if (events[i].Sequence != i + 1)
                {
                    throw new InvalidDataException($"The run log blob '{blob.Name}' holds sequence {events[i].Sequence} at position {i + 1}; the log is damaged.");
                }
            }

            var snapshot = new Snapshot(events, content.Length, response.Value.Details.ETag);
            this.Remember(runId, snapshot);
            return snapshot;
        }
        catch (RequestFailedException ex) when (ex.Status == 304 && cached is not null)
        {
            return cached;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            this.cache.TryRemove(runId, out _);
            return new Snapshot(new List<StoredRunEvent>(), 0, null);
        }
    }

    private static Task Backoff(int attempt, CancellationToken cancellationToken) =>
        Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 5 * Math.Min(attempt, 20))), cancellationToken);

    private async Task<AppendBlobClient> BlobAsync(string runId, CancellationToken cancellationToken)
    {
        BlobContainerClient container = await this.storage.GetContainerAsync(this.storage.RunsContainerName, cancellationToken).ConfigureAwait(false);
        return container.GetAppendBlobClient(BlobName(runId));
    }

    private void Remember(string runId, Snapshot snapshot)
    {
        if (snapshot.Length > MaxCachedLogSizeBytes)
        {
            this.cache.TryRemove(runId, out _);
            return;
        }

        if (this.cache.Count >= MaxCachedRuns && !this.cache.ContainsKey(runId))
        {
            // Bounded: start over rather than track recency; a miss costs one full download.
            this.cache.Clear();
        }

        this.cache[runId] = snapshot;
    }

    /// <summary>One version of a run's log; shared by readers, never changed.</summary>
    private sealed record Snapshot(IReadOnlyList<StoredRunEvent> Events, long Length, ETag? ETag);
}
