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
/// <see cref="MaxBatchSizeBytes"/> once serialized (the service's largest append block).
/// </summary>
public sealed class BlobRunEventLog : IRunEventLog
{
    /// <summary>Largest serialized batch: one append block.</summary>
    public const int MaxBatchSizeBytes = 4 * 1024 * 1024;

    /// <summary>Most attempts of one append when other writers keep winning.</summary>
    public const int MaxAppendAttempts = 50;

    private static readonly JsonSerializerOptions LineOptions = new(JsonSerializerDefaults.General);

    private readonly AgentBlobStorage storage;

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
            Snapshot current = await LoadAsync(blob, cancellationToken).ConfigureAwait(false);
            var keys = new HashSet<string>(current.Events.Select(e => e.Key), StringComparer.Ordinal);
            List<NewRunEvent> fresh = RunEventBatch.Fresh(events, keys.Contains);
            long count = current.Events.Count;
            if (count + fresh.Count > RunEventLogLimits.MaxEventsPerRun)
            {
                throw RunEventBatch.Full(runId, count);
            }

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
                await blob.AppendBlockAsync(
                    stream,
                    new AppendBlobAppendBlockOptions { Conditions = new AppendBlobRequestConditions { IfMatch = etag, IfAppendPositionEqual = current.Length } },
                    cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 404)
            {
                // Another writer appended (or the log was deleted) since the read: read again.
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
        Snapshot current = await LoadAsync(blob, cancellationToken).ConfigureAwait(false);
        return current.Events.Where(e => e.Sequence > afterSequence).Take(maxCount).Select(e => e.ToRunEvent()).ToList();
    }

    /// <inheritdoc/>
    public async Task WaitAsync(string runId, long afterSequence, TimeSpan maxWait, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        cancellationToken.ThrowIfCancellationRequested();
        using RunEventSignals.Lease lease = this.storage.Signals.Acquire(runId);
        AppendBlobClient blob = await this.BlobAsync(runId, cancellationToken).ConfigureAwait(false);
        Snapshot current = await LoadAsync(blob, cancellationToken).ConfigureAwait(false);
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

    private static async Task<Snapshot> LoadAsync(AppendBlobClient blob, CancellationToken cancellationToken)
    {
        try
        {
            Response<BlobDownloadResult> response = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
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

            return new Snapshot(events, content.Length, response.Value.Details.ETag);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
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

    private sealed record Snapshot(List<StoredRunEvent> Events, long Length, ETag? ETag);
}
