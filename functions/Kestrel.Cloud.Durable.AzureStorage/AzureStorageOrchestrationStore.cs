using System.Globalization;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// The durable store on Azure Storage (or Azurite). Design (DESIGN.md beside this file has the long form):
/// <list type="bullet">
/// <item>One JSON blob per instance in <c>{hub}-instances</c>: record, lock, inbox, outbox, history segment
/// list, recently applied message ids. Every change is a read-modify-write with If-Match on its ETag, so two
/// workers never both commit a step; a lost race re-reads and retries a bounded number of times.</item>
/// <item>History as JSON lines in append blobs (<c>{hub}-history</c>); a step appends one block. The document
/// records each segment's committed length, which is what readers read.</item>
/// <item>Work items in queues, at least once: <c>{hub}-control</c> holds "wake instance X" messages (timers are
/// wake-ups with a visibility delay, re-sent in steps past the 7-day limit), <c>{hub}-activities</c> holds
/// activity work items (inputs too large for a message go to <c>{hub}-payloads</c>).</item>
/// <item>A step commit writes the document (history, consumed inbox removed, the new outbox) and only then
/// dispatches the outbox and clears it. If the process dies in between, the next lock of the instance
/// re-dispatches the outbox first; receivers drop duplicates by message id.</item>
/// <item>A message dequeued more than MaxDequeueCount times goes to <c>{hub}-poison</c>; its instance fails (or,
/// for an activity, receives a failure) with the reason in its status.</item>
/// </list>
/// Times come from the <see cref="TimeProvider"/>; queue visibility is the service's clock.
/// </summary>
public sealed partial class AzureStorageOrchestrationStore : IOrchestrationStore
{
    private const int DispatchParallelism = 16;

    private readonly AzureStorageStoreOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private readonly StorageNames names;
    private readonly BlobContainerClient instancesContainer;
    private readonly BlobContainerClient historyContainer;
    private readonly BlobContainerClient payloadsContainer;
    private readonly QueueClient controlQueue;
    private readonly QueueClient activityQueue;
    private readonly QueueClient poisonQueue;
    private readonly WakeUpTracker wakeUps = new();
    private readonly SemaphoreSlim initializeGate = new(1, 1);
    private volatile bool initialized;

    /// <summary>Creates a store. Options are validated here; all errors are reported together.</summary>
    public AzureStorageOrchestrationStore(AzureStorageStoreOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kestrel.Cloud.Durable.AzureStorage");
        this.names = new StorageNames(options.TaskHubName);

        // Base64 bodies: what the Functions queue trigger expects by default.
        var queueOptions = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        BlobServiceClient blobs = options.CreateBlobServiceClient();
        QueueServiceClient queues = string.IsNullOrWhiteSpace(options.ConnectionString)
            ? new QueueServiceClient(options.QueueServiceUri!, options.Credential!, queueOptions)
            : new QueueServiceClient(options.ConnectionString, queueOptions);

        this.instancesContainer = blobs.GetBlobContainerClient(this.names.InstancesContainer);
        this.historyContainer = blobs.GetBlobContainerClient(this.names.HistoryContainer);
        this.payloadsContainer = blobs.GetBlobContainerClient(this.names.PayloadsContainer);
        this.controlQueue = queues.GetQueueClient(this.names.ControlQueue);
        this.activityQueue = queues.GetQueueClient(this.names.ActivityQueue);
        this.poisonQueue = queues.GetQueueClient(this.names.PoisonQueue);
    }

    /// <inheritdoc/>
    public string Name => "azure-storage";

    /// <inheritdoc/>
    public StoreSignals Signals { get; } = new();

    /// <summary>The options in force.</summary>
    public AzureStorageStoreOptions Options => this.options;

    /// <summary>The control queue's name (wake-ups); a Functions queue trigger on it drives orchestrations.</summary>
    public string ControlQueueName => this.names.ControlQueue;

    /// <summary>The activity queue's name; a Functions queue trigger on it drives activities.</summary>
    public string ActivityQueueName => this.names.ActivityQueue;

    /// <summary>The poison queue's name.</summary>
    public string PoisonQueueName => this.names.PoisonQueue;

    /// <summary>
    /// Test hook: runs before every outbox dispatch, after a step's commit or when a repair re-dispatches an outbox a
    /// crashed step left behind (throw to simulate a crash there; act to interleave another worker).
    /// </summary>
    internal Func<string, Task>? BeforeDispatch { get; set; }

    internal BlobContainerClient InstancesContainer => this.instancesContainer;

    internal BlobContainerClient PayloadsContainer => this.payloadsContainer;

    internal BlobContainerClient HistoryContainer => this.historyContainer;

    internal QueueClient ControlQueue => this.controlQueue;

    internal QueueClient ActivityQueue => this.activityQueue;

    internal QueueClient PoisonQueue => this.poisonQueue;

    private DateTime Now => this.timeProvider.GetUtcNow().UtcDateTime;

    /// <inheritdoc/>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (this.initialized)
        {
            return;
        }

        await this.initializeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (this.initialized)
            {
                return;
            }

            await Task.WhenAll(
                this.instancesContainer.CreateIfNotExistsAsync(cancellationToken: cancellationToken),
                this.historyContainer.CreateIfNotExistsAsync(cancellationToken: cancellationToken),
                this.payloadsContainer.CreateIfNotExistsAsync(cancellationToken: cancellationToken),
                this.controlQueue.CreateIfNotExistsAsync(cancellationToken: cancellationToken),
                this.activityQueue.CreateIfNotExistsAsync(cancellationToken: cancellationToken),
                this.poisonQueue.CreateIfNotExistsAsync(cancellationToken: cancellationToken)).ConfigureAwait(false);
            this.initialized = true;
            Log.Initialized(this.logger, this.options.TaskHubName);
        }
        finally
        {
            this.initializeGate.Release();
        }
    }

    /// <inheritdoc/>
    public async Task CreateInstanceAsync(OrchestrationMessage startMessage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(startMessage);
        var es = startMessage.Event as ExecutionStartedEvent
            ?? throw new ArgumentException("The start message must carry an ExecutionStartedEvent.", nameof(startMessage));
        string id = startMessage.InstanceId;
        string messageId = NewId();
        for (int attempt = 1; ; attempt++)
        {
            var (outcome, stored) = await this.MutateAsync(
                id,
                doc =>
                {
                    if (doc is not null && !doc.Record.Status.IsTerminal())
                    {
                        throw new OrchestrationAlreadyExistsException(id, doc.Record.Status);
                    }

                    if (doc is not null && doc.Outbox.Count > 0)
                    {
                        return (null, RouteOutcome.NeedsRepair);
                    }

                    return (this.NewDocument(messageId, startMessage, es), doc is null ? RouteOutcome.Created : RouteOutcome.Replaced(doc.Incarnation));
                },
                null,
                cancellationToken).ConfigureAwait(false);

            if (outcome.Kind == RouteOutcomeKind.NeedsRepair)
            {
                this.ThrowIfRepairLoops(id, attempt);
                await this.RepairFinishedInstanceAsync(id, stored!, cancellationToken).ConfigureAwait(false);
                continue;
            }

            await this.AfterCreatedAsync(id, outcome, startMessage, cancellationToken).ConfigureAwait(false);
            return;
        }
    }

    /// <inheritdoc/>
    public async Task SendMessageAsync(OrchestrationMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        bool appended = await this.AppendToInboxAsync(message, NewId(), incarnation: null, cancellationToken).ConfigureAwait(false);
        if (!appended)
        {
            throw new OrchestrationNotFoundException(message.InstanceId);
        }
    }

    /// <inheritdoc/>
    public async Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        StoredDocument? stored = await this.ReadDocumentAsync(instanceId, cancellationToken).ConfigureAwait(false);
        return stored?.Doc.Record;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        StoredDocument? stored = await this.ReadDocumentAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return Array.Empty<HistoryEvent>();
        }

        return await this.ReadHistoryAsync(instanceId, stored.Doc, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<InstanceQueryResult> QueryInstancesAsync(InstanceQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (afterCreated, afterId) = QueryPaging.Decode(query.ContinuationToken);
        int pageSize = QueryPaging.ValidatePageSize(query.PageSize);

        // The listing's metadata narrows the candidates; the documents decide.
        List<InstanceRecord> candidates = await this.ListAsync(query.InstanceIdPrefix, cancellationToken).ConfigureAwait(false);
        var ordered = candidates
            .Where(query.Matches)
            .Where(r => QueryPaging.IsAfter(r, afterCreated, afterId))
            .OrderBy(r => r.CreatedAt).ThenBy(r => r.InstanceId, StringComparer.Ordinal)
            .ToList();

        var page = new List<InstanceRecord>();
        for (int start = 0; start < ordered.Count && page.Count <= pageSize;)
        {
            int take = Math.Min(pageSize + 1 - page.Count, ordered.Count - start);
            var batch = ordered.GetRange(start, take);
            start += take;
            InstanceRecord?[] records = await this.ReadRecordsAsync(batch.Select(r => r.InstanceId), cancellationToken).ConfigureAwait(false);
            page.AddRange(records.OfType<InstanceRecord>().Where(query.Matches).Where(r => QueryPaging.IsAfter(r, afterCreated, afterId)));
        }

        page = page.OrderBy(r => r.CreatedAt).ThenBy(r => r.InstanceId, StringComparer.Ordinal).Take(pageSize + 1).ToList();
        return QueryPaging.ToResult(page, pageSize);
    }

    /// <inheritdoc/>
    public async Task<bool> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        for (int attempt = 1; ; attempt++)
        {
            StoredDocument? stored = await this.ReadDocumentAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (stored is null)
            {
                return false;
            }

            if (!stored.Doc.Record.Status.IsTerminal())
            {
                throw new InvalidOperationException(
                    $"Instance '{instanceId}' is {stored.Doc.Record.Status}; only finished instances can be purged. Terminate it first.");
            }

            if (stored.Doc.Outbox.Count > 0)
            {
                // Deliver what its last step produced (a result to its parent) before it goes.
                await this.RepairFinishedInstanceAsync(instanceId, stored, cancellationToken).ConfigureAwait(false);
            }
            else if (await this.TryDeleteDocumentAsync(instanceId, stored.ETag, cancellationToken).ConfigureAwait(false))
            {
                await this.DeleteIncarnationBlobsAsync(instanceId, stored.Doc.Incarnation, cancellationToken).ConfigureAwait(false);
                Log.Purged(this.logger, instanceId);
                return true;
            }

            if (attempt >= this.options.MaxConflictRetries)
            {
                throw new StoreConcurrencyException(
                    $"Instance '{instanceId}' kept changing while it was purged ({attempt} attempts, AzureStorageStoreOptions.MaxConflictRetries); retry the purge.");
            }
        }
    }

    /// <inheritdoc/>
    public async Task<int> PurgeInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        List<InstanceRecord> candidates = await this.ListAsync(null, cancellationToken).ConfigureAwait(false);
        int purged = 0;
        foreach (InstanceRecord candidate in candidates.Where(r => QueryPaging.MatchesPurge(filter, r)))
        {
            StoredDocument? stored = await this.ReadDocumentAsync(candidate.InstanceId, cancellationToken).ConfigureAwait(false);
            if (stored is null || !QueryPaging.MatchesPurge(filter, stored.Doc.Record))
            {
                continue;
            }

            try
            {
                if (await this.PurgeInstanceAsync(candidate.InstanceId, cancellationToken).ConfigureAwait(false))
                {
                    purged++;
                }
            }
            catch (InvalidOperationException)
            {
                // Restarted (no longer finished) between the listing and the purge: not ours to delete.
            }
        }

        return purged;
    }

    /// <inheritdoc/>
    public Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default) =>
        Task.FromResult(this.wakeUps.Next(kind));

    /// <summary>
    /// Housekeeping (for a timer trigger or a periodic task): wakes every instance whose document has not
    /// changed for <paramref name="minimumAge"/> and still holds visible inbox messages or an outbox, in case
    /// the wake-up for them was lost (a client that died between appending a message and sending its wake-up,
    /// a control message deleted by hand). Extra wake-ups are harmless. Returns how many it sent.
    /// </summary>
    public async Task<int> SweepAsync(TimeSpan minimumAge, CancellationToken cancellationToken = default)
    {
        DateTimeOffset now = this.timeProvider.GetUtcNow();
        int sent = 0;
        await foreach (BlobItem item in this.instancesContainer.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, null, cancellationToken).ConfigureAwait(false))
        {
            // Age on the store's clock (written with the document), not the service's.
            IDictionary<string, string> metadata = item.Metadata;
            if (metadata.TryGetValue("written", out string? written)
                && long.TryParse(written, NumberStyles.None, CultureInfo.InvariantCulture, out long writtenTicks)
                && now.UtcTicks - writtenTicks < minimumAge.Ticks)
            {
                continue;
            }

            bool hasOutbox = metadata.TryGetValue("outbox", out string? outbox) && outbox != "0";
            bool hasVisibleMessage = metadata.TryGetValue("next", out string? next)
                && long.TryParse(next, NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)
                && ticks <= now.UtcTicks;
            if ((hasOutbox || hasVisibleMessage) && metadata.TryGetValue("id", out string? id))
            {
                await this.SendWakeAsync(Uri.UnescapeDataString(id), now.UtcDateTime, cancellationToken).ConfigureAwait(false);
                sent++;
            }
        }

        return sent;
    }

    /// <summary>Reads the raw document of an instance (tests and diagnostics).</summary>
    internal async Task<InstanceDocument?> ReadDocumentForTestsAsync(string instanceId)
    {
        StoredDocument? stored = await this.ReadDocumentAsync(instanceId, CancellationToken.None).ConfigureAwait(false);
        return stored?.Doc;
    }

    private static string NewId() => Guid.NewGuid().ToString("N");

    private InstanceDocument NewDocument(string messageId, OrchestrationMessage startMessage, ExecutionStartedEvent es)
    {
        var doc = new InstanceDocument
        {
            Incarnation = NewId(),
            Record = InstanceCreation.NewRecord(startMessage.InstanceId, es, this.Now),
        };
        doc.Enqueue(messageId, startMessage);
        return doc;
    }

    private async Task AfterCreatedAsync(string instanceId, RouteOutcome outcome, OrchestrationMessage startMessage, CancellationToken cancellationToken)
    {
        if (outcome.OldIncarnation is { } old)
        {
            try
            {
                await this.DeleteIncarnationBlobsAsync(instanceId, old, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex)
            {
                Log.CleanupFailed(this.logger, instanceId, ex);
            }
        }

        await this.SendWakeAsync(instanceId, startMessage.VisibleAt ?? this.Now, cancellationToken).ConfigureAwait(false);
        this.Signals.NotifyInstanceChanged(instanceId);
    }

    /// <summary>Lists the instances (as far as the blob metadata tells) whose ids start with the prefix.</summary>
    private async Task<List<InstanceRecord>> ListAsync(string? instanceIdPrefix, CancellationToken cancellationToken)
    {
        string?[] prefixes = instanceIdPrefix is null ? [null] : [StorageNames.Escape(instanceIdPrefix), StorageNames.HashedPrefix];
        var records = new List<InstanceRecord>();
        var unreadable = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string? prefix in prefixes)
        {
            await foreach (BlobItem item in this.instancesContainer.GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, prefix, cancellationToken).ConfigureAwait(false))
            {
                if (!seen.Add(item.Name))
                {
                    continue; // an empty prefix lists the hashed names too
                }

                if (TryRecordFromMetadata(item.Metadata) is { } record)
                {
                    records.Add(record);
                }
                else
                {
                    unreadable.Add(item.Name);
                }
            }
        }

        foreach (string name in unreadable)
        {
            Response<BlobDownloadResult> response = await this.instancesContainer.GetBlobClient(name).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            records.Add(StoreJson.Deserialize<InstanceDocument>(response.Value.Content.ToMemory().Span).Record);
        }

        return instanceIdPrefix is null ? records : records.Where(r => r.InstanceId.StartsWith(instanceIdPrefix, StringComparison.Ordinal)).ToList();
    }

    private async Task<InstanceRecord?[]> ReadRecordsAsync(IEnumerable<string> instanceIds, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(DispatchParallelism);
        return await Task.WhenAll(instanceIds.Select(async id =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return (await this.ReadDocumentAsync(id, cancellationToken).ConfigureAwait(false))?.Doc.Record;
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);
    }

    private static InstanceRecord? TryRecordFromMetadata(IDictionary<string, string>? metadata)
    {
        if (metadata is null
            || !metadata.TryGetValue("id", out string? id)
            || !metadata.TryGetValue("name", out string? name)
            || !metadata.TryGetValue("status", out string? status)
            || !metadata.TryGetValue("created", out string? created)
            || !Enum.TryParse(status, out OrchestrationRuntimeStatus parsedStatus)
            || !long.TryParse(created, NumberStyles.None, CultureInfo.InvariantCulture, out long ticks))
        {
            return null;
        }

        var createdAt = new DateTime(ticks, DateTimeKind.Utc);
        return new InstanceRecord
        {
            InstanceId = Uri.UnescapeDataString(id),
            Name = Uri.UnescapeDataString(name),
            ExecutionId = string.Empty,
            Status = parsedStatus,
            CreatedAt = createdAt,
            LastUpdatedAt = createdAt,
        };
    }
}
