using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>The lock an orchestration work item holds: the document as locked, the messages it consumes, the wake-up that delivered it.</summary>
internal sealed record OrchestrationLockState(StoredDocument Document, HashSet<string> Consumed, QueueReceipt? Wake);

/// <summary>The lock an activity work item holds: its lease blob (the lock on the store's clock) and its queue message.</summary>
internal sealed class ActivityLockState
{
    public ActivityLockState(QueueReceipt receipt, QueueEnvelope envelope, BlobClient leaseBlob, ActivityLease lease, ETag leaseETag)
    {
        this.Receipt = receipt;
        this.Envelope = envelope;
        this.LeaseBlob = leaseBlob;
        this.Lease = lease;
        this.LeaseETag = leaseETag;
    }

    public QueueReceipt Receipt { get; }

    public QueueEnvelope Envelope { get; }

    public BlobClient LeaseBlob { get; }

    /// <summary>The lease as this worker last wrote it.</summary>
    public ActivityLease Lease { get; set; }

    public ETag LeaseETag { get; set; }
}

/// <summary>Worker side: locking, committing and releasing work items.</summary>
public sealed partial class AzureStorageOrchestrationStore
{
    /// <summary>Most queue messages one TryLockNext call looks at before it reports no work (messages that need no work are consumed on the way).</summary>
    private const int MaxMessagesPerFetch = 32;

    /// <summary>
    /// Longest a wake-up that found its instance locked by another worker is put off. The holder wakes the instance
    /// itself when it commits with messages left over, so the re-check is only a safety net; it is kept short so that a
    /// wake-up the holder's check missed costs seconds, not the rest of the lock (OrchestrationLockDuration, 30 s).
    /// </summary>
    internal static readonly TimeSpan BusyRecheckDelay = TimeSpan.FromSeconds(5);

    private enum LockKind
    {
        NotFound,

        /// <summary>Another worker holds the lock.</summary>
        Busy,

        /// <summary>Released with a delay (abandoned): the instance waits as a whole until a known time.</summary>
        Delayed,

        Idle,
        Locked,
    }

    /// <inheritdoc/>
    public async Task<OrchestrationWorkItem?> TryLockNextOrchestrationAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        TimeSpan visibility = QueueLockVisibility(lockDuration);

        // Wake-ups this call sent back to the queue. Meeting one again means the call went round every
        // visible message (only possible when MaxWakeUpDelay is zero): stop there.
        var requeued = new HashSet<string>(StringComparer.Ordinal);
        using var fetch = new FetchCancellation(cancellationToken);
        for (int i = 0; i < MaxMessagesPerFetch; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Response<QueueMessage> response = await this.controlQueue.ReceiveMessageAsync(visibility, fetch.Token).ConfigureAwait(false);
            if (response.Value is not { } message)
            {
                this.wakeUps.FetchFoundNothing(WorkItemKind.Orchestration, this.Now);
                return null;
            }

            var receipt = new QueueReceipt(this.controlQueue, message.MessageId, message.PopReceipt, message.Body.ToString());
            QueueEnvelope? envelope = QueueEnvelope.TryParse(receipt.Text);
            bool cameRound = envelope is not null && requeued.Contains(envelope.Id);
            OrchestrationWorkItem? item = await this.ProcessWakeAsync(receipt, envelope, message.DequeueCount, lockDuration, requeued, fetch.Token).ConfigureAwait(false);
            if (item is null && cameRound)
            {
                this.wakeUps.FetchFoundNothing(WorkItemKind.Orchestration, this.Now);
            }

            if (item is not null || cameRound)
            {
                return item;
            }
        }

        return null;
    }

    /// <inheritdoc/>
    public async Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(commit);
        try
        {
            await this.CompleteOrchestrationCoreAsync(workItem, commit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Committed (lock released) or lost: this process no longer holds the instance.
            this.wakeUps.Released(WorkItemKind.Orchestration, workItem.InstanceId);
        }
    }

    private async Task CompleteOrchestrationCoreAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken)
    {
        OrchestrationLockState state = LockStateOf(workItem);
        string id = workItem.InstanceId;
        string token = workItem.LockToken;
        if (!string.Equals(state.Document.Doc.LockToken, token, StringComparison.Ordinal))
        {
            throw LockLost(id);
        }

        // 1. History first: bytes past the committed length are ignored until the document says otherwise.
        List<HistorySegment> segments = await this.AppendHistoryAsync(id, state.Document.Doc, commit.ReplaceHistory, commit.NewEvents, token, cancellationToken).ConfigureAwait(false);
        int historyCount = segments.Sum(s => s.Count);

        // 2. The outbox, with ids fixed before the first attempt so a retried write keeps them.
        var produced = new List<OutboxEntry>();
        var toSelf = new List<(string Id, OrchestrationMessage Message)>();
        foreach (ActivityRequest activity in commit.Activities)
        {
            produced.Add(new OutboxEntry { Id = NewId(), Kind = OutboxKind.Activity, Activity = activity });
        }

        foreach (OrchestrationMessage message in commit.Messages)
        {
            if (string.Equals(message.InstanceId, id, StringComparison.Ordinal))
            {
                toSelf.Add((NewId(), message));
            }
            else
            {
                produced.Add(new OutboxEntry { Id = NewId(), Kind = OutboxKind.Message, Message = message });
            }
        }

        // 3. The commit: one conditional write of the document.
        DateTime now = this.Now;
        List<HistorySegment> dropped = new();
        var (_, stored) = await this.MutateAsync(
            id,
            doc =>
            {
                if (doc is null || !string.Equals(doc.LockToken, token, StringComparison.Ordinal))
                {
                    throw LockLost(id);
                }

                dropped = commit.ReplaceHistory ? doc.History.ToList() : new List<HistorySegment>();
                doc.Inbox.RemoveAll(e => state.Consumed.Contains(e.Id));
                doc.RememberApplied(state.Consumed, this.options.AppliedMessageIdsToKeep);
                doc.History = segments.Select(s => new HistorySegment { Blob = s.Blob, Length = s.Length, Count = s.Count, Blocks = s.Blocks }).ToList();
                doc.Record = commit.Instance with { HistoryCount = historyCount, LastUpdatedAt = now };
                doc.Outbox.AddRange(produced);
                var futureWakes = new SortedSet<DateTime>();
                foreach ((string messageId, OrchestrationMessage message) in toSelf)
                {
                    this.RouteToSelf(doc, messageId, message);
                    if (message.VisibleAt is { } due && due > now)
                    {
                        futureWakes.Add(due);
                    }
                }

                foreach (DateTime due in futureWakes)
                {
                    doc.Outbox.Add(new OutboxEntry { Id = NewId(), Kind = OutboxKind.Wake, DueAt = due });
                }

                if (doc.Outbox.Count == 0)
                {
                    doc.LockToken = null;
                }

                return (doc, true);
            },
            state.Document,
            cancellationToken).ConfigureAwait(false);

        // 4. Dispatch, then clear the outbox (and release the lock). A crash before the clear is repaired at the next lock.
        InstanceDocument written = stored!.Doc;
        if (written.Outbox.Count > 0)
        {
            await this.DispatchOutboxAsync(id, written, cancellationToken).ConfigureAwait(false);
            // The document as written is the likely current one: try it first (a lost race re-reads).
            stored = await this.ClearOutboxAsync(id, written.Outbox.Select(e => e.Id).ToHashSet(StringComparer.Ordinal), token, releaseLock: true, Copy(stored), cancellationToken).ConfigureAwait(false);
        }

        if (dropped.Count > 0)
        {
            await this.TryDeleteSegmentsAsync(id, dropped).ConfigureAwait(false);
        }

        // 5. Messages that arrived during the step (their own wake-ups found the instance locked), and the
        // wake-up that delivered this step, which is no longer needed.
        Task leftovers = this.WakeIfMessagesWaitingAsync(id, stored, cancellationToken);
        Task consumed = state.Wake is { } wake ? TryDeleteMessageAsync(wake, cancellationToken) : Task.CompletedTask;
        await Task.WhenAll(leftovers, consumed).ConfigureAwait(false);

        this.Signals.NotifyInstanceChanged(id);
    }

    /// <inheritdoc/>
    public async Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        OrchestrationLockState state = LockStateOf(workItem);
        string token = workItem.LockToken;
        DateTime now = this.Now;
        DateTime visibleAt = now + (delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
        var (released, _) = await this.MutateAsync(
            workItem.InstanceId,
            doc =>
            {
                if (doc is null || !string.Equals(doc.LockToken, token, StringComparison.Ordinal))
                {
                    return (null, false);
                }

                // The instance waits as a whole, so a message that arrives meanwhile cannot overtake the released ones.
                doc.NotBefore = visibleAt;
                doc.LockToken = null;
                return (doc, true);
            },
            null,
            cancellationToken).ConfigureAwait(false);

        this.wakeUps.Released(WorkItemKind.Orchestration, workItem.InstanceId);
        if (released)
        {
            // The same wake-up comes back after the delay, counting as a failed delivery towards MaxDequeueCount.
            TimeSpan visibility = this.VisibilityDelay(visibleAt - now);
            if (state.Wake is null || !await TryUpdateVisibilityAsync(state.Wake, visibility, cancellationToken).ConfigureAwait(false))
            {
                await this.SendWakeAsync(workItem.InstanceId, visibleAt, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                this.wakeUps.Due(WorkItemKind.Orchestration, workItem.InstanceId, visibility > TimeSpan.Zero ? now + visibility : visibleAt);
            }
        }

        this.Signals.NotifyOrchestrationWork();
    }

    /// <inheritdoc/>
    public async Task<ActivityWorkItem?> TryLockNextActivityAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        TimeSpan visibility = QueueLockVisibility(lockDuration);

        // Activities this call sent back to the queue because their lease was held: meeting one again means the
        // call went round every visible message (as for wake-ups).
        var requeued = new HashSet<string>(StringComparer.Ordinal);
        using var fetch = new FetchCancellation(cancellationToken);
        for (int i = 0; i < MaxMessagesPerFetch; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Response<QueueMessage> response = await this.activityQueue.ReceiveMessageAsync(visibility, fetch.Token).ConfigureAwait(false);
            if (response.Value is not { } message)
            {
                this.wakeUps.FetchFoundNothing(WorkItemKind.Activity, this.Now);
                return null;
            }

            var receipt = new QueueReceipt(this.activityQueue, message.MessageId, message.PopReceipt, message.Body.ToString());
            QueueEnvelope? envelope = QueueEnvelope.TryParse(receipt.Text);
            bool cameRound = envelope is not null && requeued.Contains(envelope.Id);
            ActivityWorkItem? item = await this.ProcessActivityMessageAsync(receipt, envelope, message.DequeueCount, lockDuration, requeued, fetch.Token).ConfigureAwait(false);
            if (item is not null)
            {
                return item;
            }

            if (cameRound)
            {
                this.wakeUps.FetchFoundNothing(WorkItemKind.Activity, this.Now);
                return null;
            }
        }

        return null;
    }

    /// <inheritdoc/>
    public async Task<bool> RenewActivityLockAsync(ActivityWorkItem workItem, TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ActivityLockState state = LockStateOf(workItem);
        DateTime now = this.Now;
        ActivityLease renewed = state.Lease.Clone();
        renewed.ExpiresAt = now + lockDuration;
        if (await TryWriteLeaseAsync(state.LeaseBlob, renewed, state.LeaseETag, cancellationToken).ConfigureAwait(false) is not { } etag)
        {
            this.wakeUps.Released(WorkItemKind.Activity, state.Envelope.Id);
            return false;
        }

        state.Lease = renewed;
        state.LeaseETag = etag;
        this.wakeUps.Locked(WorkItemKind.Activity, state.Envelope.Id, renewed.ExpiresAt, now);

        // Only a hint for the transport; a stale receipt means a copy of the message is queued, and the lease decides.
        await TryUpdateVisibilityAsync(state.Receipt, this.LeaseVisibility(lockDuration), cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc/>
    public async Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(result);
        ActivityLockState state = LockStateOf(workItem);
        string instanceId = state.Envelope.InstanceId!;
        try
        {
            // Prove the lock, and hold it while the result is recorded; a lost lock changes nothing.
            ActivityLease completing = state.Lease.Clone();
            completing.ExpiresAt = this.Now + this.options.CompletionVisibilityTimeout;
            if (await TryWriteLeaseAsync(state.LeaseBlob, completing, state.LeaseETag, cancellationToken).ConfigureAwait(false) is not { } etag)
            {
                return false;
            }

            state.Lease = completing;
            state.LeaseETag = etag;

            // The result's id derives from the activity message's id: a second run's result is a duplicate.
            await this.AppendToInboxAsync(result, ResultId(state.Envelope), state.Envelope.Incarnation, cancellationToken).ConfigureAwait(false);
            if (await TryDeleteMessageAsync(state.Receipt, cancellationToken).ConfigureAwait(false))
            {
                await this.TryDeleteLeaseAsync(state.LeaseBlob, instanceId).ConfigureAwait(false);
            }
            else
            {
                // A worker that found the lease held re-queued a copy of the message: mark the lease done so that
                // copy is deleted unrun. If this write loses, the lease expired and another worker runs the
                // activity again; its result is a duplicate and is dropped.
                ActivityLease done = completing.Clone();
                done.Done = true;
                await TryWriteLeaseAsync(state.LeaseBlob, done, etag, cancellationToken).ConfigureAwait(false);
            }

            await this.TryDeletePayloadAsync(state.Envelope).ConfigureAwait(false);
            return true;
        }
        finally
        {
            this.wakeUps.Released(WorkItemKind.Activity, state.Envelope.Id);
        }
    }

    /// <inheritdoc/>
    public async Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ActivityLockState state = LockStateOf(workItem);
        DateTime now = this.Now;
        DateTime visibleAt = now + (delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
        var released = new ActivityLease { Token = null, NotBefore = visibleAt, Deliveries = state.Lease.Deliveries };
        ETag? etag = await TryWriteLeaseAsync(state.LeaseBlob, released, state.LeaseETag, cancellationToken).ConfigureAwait(false);
        this.wakeUps.Released(WorkItemKind.Activity, state.Envelope.Id);
        if (etag is { } written)
        {
            state.Lease = released;
            state.LeaseETag = written;

            // The queue brings the message back after the delay; with a stale receipt a re-queued copy does, and the
            // lease holds it back until the store's clock reaches the delay.
            TimeSpan visibility = this.VisibilityDelay(delay);
            await TryUpdateVisibilityAsync(state.Receipt, visibility, cancellationToken).ConfigureAwait(false);
            this.wakeUps.Due(WorkItemKind.Activity, state.Envelope.Id, visibility > TimeSpan.Zero ? now + visibility : visibleAt);
        }

        this.Signals.NotifyActivityWork();
    }

    /// <summary>
    /// Locks the work of exactly one queue message delivered by an Azure Functions queue trigger (on the
    /// control queue or the activity queue). Returns the work item to run with the engine's
    /// <c>DurableTaskWorker.ProcessOrchestrationAsync</c> / <c>ProcessActivityAsync</c>, or null when the message
    /// needed no work (it was consumed, re-scheduled or moved to the poison queue). Pass the engine's
    /// OrchestrationLockDuration for control messages and ActivityLockDuration for activity messages. Throws
    /// <see cref="FormatException"/> for a message this store did not write (the host then retries and
    /// eventually moves it to its own poison queue).
    /// </summary>
    public async Task<QueueWorkItem?> TryLockFromQueueMessageAsync(
        string messageText, string messageId, string popReceipt, long dequeueCount, TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        ArgumentException.ThrowIfNullOrEmpty(popReceipt);
        QueueEnvelope envelope = QueueEnvelope.TryParse(messageText)
            ?? throw new FormatException(
                $"Queue message '{messageId}' is not a message of the Azure Storage store (expected JSON with \"k\" and \"id\"). " +
                "Only the store's control and activity queues may be bound to the work endpoints.");
        if (envelope.Kind == QueueEnvelope.ActivityKind)
        {
            var receipt = new QueueReceipt(this.activityQueue, messageId, popReceipt, envelope.ToJson());
            ActivityWorkItem? activity = await this.ProcessActivityMessageAsync(receipt, envelope, dequeueCount, lockDuration, null, cancellationToken).ConfigureAwait(false);
            return activity is null ? null : new QueueWorkItem(activity);
        }

        var wake = new QueueReceipt(this.controlQueue, messageId, popReceipt, envelope.ToJson());
        OrchestrationWorkItem? orchestration = await this.ProcessWakeAsync(wake, envelope, dequeueCount, lockDuration, null, cancellationToken).ConfigureAwait(false);
        return orchestration is null ? null : new QueueWorkItem(orchestration);
    }

    /// <summary>A deep copy, so a write attempt that mutates it leaves the original intact.</summary>
    private static StoredDocument Copy(StoredDocument stored) =>
        new(StoreJson.Deserialize<InstanceDocument>(StoreJson.Serialize(stored.Doc)), stored.ETag);

    private static string ResultId(QueueEnvelope envelope) => envelope.Id + "-result";

    private static OrchestrationLockState LockStateOf(OrchestrationWorkItem item) =>
        item.StoreState as OrchestrationLockState
        ?? throw new ArgumentException("The work item was not locked by an AzureStorageOrchestrationStore.", nameof(item));

    private static ActivityLockState LockStateOf(ActivityWorkItem item) =>
        item.StoreState as ActivityLockState
        ?? throw new ArgumentException("The work item was not locked by an AzureStorageOrchestrationStore.", nameof(item));

    /// <summary>How long a leased activity's message stays hidden: the lock duration, or nothing in manual-clock mode (MaxWakeUpDelay zero).</summary>
    private TimeSpan LeaseVisibility(TimeSpan lockDuration) =>
        this.options.MaxWakeUpDelay == TimeSpan.Zero ? TimeSpan.Zero : QueueLockVisibility(lockDuration);

    /// <summary>A lock duration as a queue visibility: whole seconds rounded up, 1 second to 7 days.</summary>
    private static TimeSpan QueueLockVisibility(TimeSpan lockDuration)
    {
        double seconds = Math.Ceiling(Math.Max(1, lockDuration.TotalSeconds));
        return TimeSpan.FromSeconds(Math.Min(seconds, AzureStorageStoreOptions.MaxQueueVisibilityTimeout.TotalSeconds));
    }

    /// <summary>Handles one wake-up: returns a locked work item, or null after consuming, re-scheduling or poisoning it.</summary>
    private async Task<OrchestrationWorkItem?> ProcessWakeAsync(
        QueueReceipt receipt, QueueEnvelope? envelope, long dequeueCount, TimeSpan lockDuration, HashSet<string>? requeued, CancellationToken cancellationToken)
    {
        if (envelope is not { Kind: QueueEnvelope.WakeKind, InstanceId: not null })
        {
            await this.SendToPoisonQueueAsync(receipt, dequeueCount, "The control-queue message is not a wake-up written by this store; it was set aside unread.", null, cancellationToken).ConfigureAwait(false);
            await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
            return null;
        }

        string id = envelope.InstanceId;
        if (envelope.DueAt is { } due && due > this.Now)
        {
            // Early: a timer further out than one queue delay, or clocks that disagree. Re-send with a fresh count.
            requeued?.Add(await this.SendWakeAsync(id, due, cancellationToken).ConfigureAwait(false));
            await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (dequeueCount > this.options.MaxDequeueCount)
        {
            string reason =
                $"The control-queue message for instance '{id}' was dequeued {dequeueCount} times without its step completing " +
                $"(AzureStorageStoreOptions.MaxDequeueCount = {this.options.MaxDequeueCount}); it was moved to the queue '{this.names.PoisonQueue}' " +
                "and the instance was failed so it does not retry forever. The worker logs have the errors.";
            DateTime? busyUntil = await this.FailInstanceAsync(id, reason, lockDuration, cancellationToken).ConfigureAwait(false);
            if (busyUntil is { } until)
            {
                // Another worker holds the instance right now: it is making progress, so this is not poison yet.
                requeued?.Add(await this.SendWakeAsync(id, until, cancellationToken).ConfigureAwait(false));
            }
            else
            {
                await this.SendToPoisonQueueAsync(receipt, dequeueCount, reason, id, cancellationToken).ConfigureAwait(false);
            }

            await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
            return null;
        }

        LockResult result = await this.LockAsync(id, lockDuration, force: false, cancellationToken).ConfigureAwait(false);
        switch (result.Kind)
        {
            case LockKind.Busy or LockKind.Delayed:
            {
                // Delayed: comes back when the abandon's delay ends. Busy: the holder wakes the instance for leftovers
                // when it commits; this comes back to check anyway, when the lock ends or after BusyRecheckDelay,
                // whichever is first.
                DateTime wakeAt = result.Until!.Value;
                DateTime recheck = this.Now + BusyRecheckDelay;
                if (result.Kind == LockKind.Busy && recheck < wakeAt)
                {
                    wakeAt = recheck;
                }

                requeued?.Add(await this.SendWakeAsync(id, wakeAt, cancellationToken).ConfigureAwait(false));
                await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
                return null;
            }

            case LockKind.Idle or LockKind.NotFound:
                if (result.Until is { } next)
                {
                    requeued?.Add(await this.SendWakeAsync(id, next, cancellationToken).ConfigureAwait(false));
                }

                await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
                return null;
        }

        if (result.Messages.Count == 0)
        {
            // The lock only repaired an outbox (and was released). Messages that arrived meanwhile found the instance
            // locked and were put off: wake it for them now, as a step's commit does.
            await this.WakeIfMessagesWaitingAsync(id, result.Document, cancellationToken).ConfigureAwait(false);
            await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (this.options.MaxWakeUpDelay == TimeSpan.Zero)
        {
            // Manual-clock test mode: the lock's expiry is judged on the store's clock, so the wake-up must
            // not stay hidden on the queue's clock. Visible again, it finds the instance locked and waits.
            await TryUpdateVisibilityAsync(receipt, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }

        StoredDocument stored = result.Document!;
        this.wakeUps.Locked(WorkItemKind.Orchestration, id, stored.Doc.LockExpiresAt, this.Now);
        return new OrchestrationWorkItem(
            stored.Doc.Record,
            result.Messages.Select(e => e.Message).ToList(),
            result.Token!,
            result.Messages.Max(e => e.DeliveryCount),
            new OrchestrationLockState(stored, result.Messages.Select(e => e.Id).ToHashSet(StringComparer.Ordinal), receipt));
    }

    /// <summary>
    /// Wakes an instance just released (by a step's commit or an outbox repair) for messages that arrived while it
    /// was locked: their own wake-ups found it locked and were put off.
    /// </summary>
    private Task WakeIfMessagesWaitingAsync(string instanceId, StoredDocument? released, CancellationToken cancellationToken)
    {
        DateTime now = this.Now;
        return released is not null && released.Doc.HasMessagesWaitingAt(now)
            ? this.SendWakeAsync(instanceId, now, cancellationToken)
            : Task.CompletedTask;
    }

    /// <summary>
    /// Locks an instance for a step: marks its visible inbox messages delivered once more and writes a lock
    /// token. First re-dispatches an outbox a previous step left behind. With <paramref name="force"/> the
    /// instance is locked even with nothing to apply (to fail it).
    /// </summary>
    private async Task<LockResult> LockAsync(string instanceId, TimeSpan lockDuration, bool force, CancellationToken cancellationToken)
    {
        string token = NewId();
        List<string> visibleIds = new();
        var (result, stored) = await this.MutateAsync(
            instanceId,
            doc =>
            {
                if (doc is null)
                {
                    return (null, LockResult.Of(LockKind.NotFound));
                }

                DateTime now = this.Now;
                if (doc.IsLockedAt(now))
                {
                    return (null, LockResult.Of(LockKind.Busy, doc.LockExpiresAt));
                }

                if (!force && doc.NotBefore > now)
                {
                    return (null, LockResult.Of(LockKind.Delayed, doc.NotBefore));
                }

                var visible = doc.Inbox.Where(e => e.VisibleAt <= now).OrderBy(e => e.Seq).ToList();
                if (visible.Count == 0 && doc.Outbox.Count == 0 && !force)
                {
                    return (null, LockResult.Of(LockKind.Idle, doc.EarliestFutureMessage(now)));
                }

                foreach (InboxEntry entry in visible)
                {
                    entry.DeliveryCount++;
                }

                visibleIds = visible.Select(e => e.Id).ToList();
                doc.LockToken = token;
                doc.LockExpiresAt = now + lockDuration;
                return (doc, LockResult.Of(LockKind.Locked));
            },
            null,
            cancellationToken).ConfigureAwait(false);

        if (result.Kind != LockKind.Locked)
        {
            return result;
        }

        if (stored!.Doc.Outbox.Count > 0)
        {
            Log.OutboxRepaired(this.logger, instanceId, stored.Doc.Outbox.Count);
            await this.DispatchOutboxAsync(instanceId, stored.Doc, cancellationToken).ConfigureAwait(false);
            bool release = visibleIds.Count == 0 && !force;
            stored = await this.ClearOutboxAsync(instanceId, stored.Doc.Outbox.Select(e => e.Id).ToHashSet(StringComparer.Ordinal), token, release, Copy(stored), cancellationToken).ConfigureAwait(false);
            if (stored is null || (!release && !string.Equals(stored.Doc.LockToken, token, StringComparison.Ordinal)))
            {
                return LockResult.Of(LockKind.NotFound);
            }

            if (release)
            {
                return new LockResult(LockKind.Locked, null, null, stored, Array.Empty<InboxEntry>());
            }
        }

        var byId = visibleIds.ToHashSet(StringComparer.Ordinal);
        List<InboxEntry> messages = stored.Doc.Inbox.Where(e => byId.Contains(e.Id)).OrderBy(e => e.Seq).ToList();
        return new LockResult(LockKind.Locked, null, token, stored, messages);
    }

    /// <summary>
    /// Fails an instance whose work keeps failing: commits OrchestratorStarted + ExecutionCompleted(Failed) as a
    /// step, consuming its visible messages and telling its parent. Returns the lock's expiry when another
    /// worker holds the instance (nothing was changed), else null.
    /// </summary>
    private async Task<DateTime?> FailInstanceAsync(string instanceId, string reason, TimeSpan lockDuration, CancellationToken cancellationToken)
    {
        LockResult locked = await this.LockAsync(instanceId, lockDuration, force: true, cancellationToken).ConfigureAwait(false);
        if (locked.Kind == LockKind.Busy)
        {
            return locked.Until;
        }

        if (locked.Kind != LockKind.Locked)
        {
            return null;
        }

        StoredDocument stored = locked.Document!;
        InstanceRecord record = stored.Doc.Record;
        var item = new OrchestrationWorkItem(
            record,
            locked.Messages.Select(e => e.Message).ToList(),
            locked.Token!,
            locked.Messages.Count == 0 ? 1 : locked.Messages.Max(e => e.DeliveryCount),
            new OrchestrationLockState(stored, locked.Messages.Select(e => e.Id).ToHashSet(StringComparer.Ordinal), null));
        OrchestrationStepCommit commit;
        if (record.Status.IsTerminal())
        {
            commit = new OrchestrationStepCommit { Instance = record, NewEvents = [], Activities = [], Messages = [] };
        }
        else
        {
            DateTime now = this.Now;
            var failure = new TaskFailureDetails(PoisonErrorType, reason);
            var events = new List<HistoryEvent>
            {
                new OrchestratorStartedEvent { Timestamp = now },
                new ExecutionCompletedEvent(OrchestrationRuntimeStatus.Failed, null, failure) { Timestamp = now },
            };
            IReadOnlyList<HistoryEvent> history = await this.ReadHistoryAsync(instanceId, stored.Doc, cancellationToken).ConfigureAwait(false);
            ParentInstanceInfo? parent = history.OfType<ExecutionStartedEvent>().FirstOrDefault()?.Parent
                ?? item.Messages.Select(m => m.Event).OfType<ExecutionStartedEvent>().FirstOrDefault()?.Parent;
            var messages = new List<OrchestrationMessage>();
            if (parent is not null)
            {
                messages.Add(new OrchestrationMessage(parent.InstanceId, parent.ExecutionId, new SubOrchestrationFailedEvent(parent.TaskScheduledId, failure) { Timestamp = now }));
            }

            commit = new OrchestrationStepCommit
            {
                Instance = record with { Status = OrchestrationRuntimeStatus.Failed, Failure = failure, HistoryCount = record.HistoryCount + events.Count },
                NewEvents = events,
                Activities = [],
                Messages = messages,
            };
        }

        await this.CompleteOrchestrationAsync(item, commit, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// Handles one activity message: takes its lease and returns a work item, or returns null after dropping,
    /// re-queuing (its lease is held) or poisoning it.
    /// </summary>
    private async Task<ActivityWorkItem?> ProcessActivityMessageAsync(
        QueueReceipt receipt, QueueEnvelope? envelope, long dequeueCount, TimeSpan lockDuration, HashSet<string>? requeued, CancellationToken cancellationToken)
    {
        if (envelope is not { Kind: QueueEnvelope.ActivityKind, InstanceId: not null, ExecutionId: not null, Name: not null })
        {
            await this.SendToPoisonQueueAsync(receipt, dequeueCount, "The activity-queue message is not an activity written by this store; it was set aside unread.", null, cancellationToken).ConfigureAwait(false);
            await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
            return null;
        }

        // Activities of a purged or replaced instance do not run (as in the in-memory store).
        string? incarnation = await this.ReadIncarnationAsync(envelope.InstanceId, cancellationToken).ConfigureAwait(false);
        if (incarnation is null || (envelope.Incarnation is not null && !string.Equals(incarnation, envelope.Incarnation, StringComparison.Ordinal)))
        {
            Log.MessageDropped(this.logger, receipt.MessageId, $"activity '{envelope.Name}' belongs to instance '{envelope.InstanceId}', which no longer exists");
            await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
            await this.TryDeletePayloadAsync(envelope).ConfigureAwait(false);
            return null;
        }

        BlobClient leaseBlob = this.payloadsContainer.GetBlobClient(StorageNames.LeaseBlob(envelope.InstanceId, envelope.Incarnation ?? incarnation, envelope.Id));
        LeaseResult lease = await this.TryTakeLeaseAsync(leaseBlob, lockDuration, cancellationToken).ConfigureAwait(false);
        DateTime now = this.Now;
        switch (lease.Outcome)
        {
            case LeaseOutcome.Raced:
                return null; // another worker took it meanwhile and holds the message
            case LeaseOutcome.Done:
                // A copy left behind by a completion that could not delete it.
                await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
                await this.TryDeleteLeaseAsync(leaseBlob, envelope.InstanceId).ConfigureAwait(false);
                await this.TryDeletePayloadAsync(envelope).ConfigureAwait(false);
                return null;
            case LeaseOutcome.Busy:
            {
                // Held by another worker (or abandoned with a delay), on the store's clock: the message comes back
                // when the lease becomes available (at once when MaxWakeUpDelay is zero, for manual-clock tests).
                DateTime until = lease.Until!.Value;
                TimeSpan delay = this.VisibilityDelay(until - now);
                await this.activityQueue.SendMessageAsync(envelope.ToJson(), delay, NeverExpires, cancellationToken).ConfigureAwait(false);
                requeued?.Add(envelope.Id);
                this.wakeUps.Due(WorkItemKind.Activity, envelope.Id, delay > TimeSpan.Zero ? now + delay : until);
                await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
                return null;
            }
        }

        ActivityLease granted = lease.Lease!;
        long deliveries = Math.Max(dequeueCount, granted.Deliveries);
        if (deliveries > this.options.MaxDequeueCount)
        {
            string reason =
                $"The work item of activity '{envelope.Name}' (task #{envelope.TaskId}) of instance '{envelope.InstanceId}' was dequeued {deliveries} times " +
                $"without completing (AzureStorageStoreOptions.MaxDequeueCount = {this.options.MaxDequeueCount}); it was moved to the queue '{this.names.PoisonQueue}'. " +
                "The worker probably crashed or was stopped while running it; the worker logs have the errors.";
            await this.SendToPoisonQueueAsync(receipt, deliveries, reason, envelope.InstanceId, cancellationToken).ConfigureAwait(false);
            var failed = new TaskFailedEvent(envelope.TaskId, new TaskFailureDetails(PoisonErrorType, reason)) { Timestamp = now };
            await this.AppendToInboxAsync(new OrchestrationMessage(envelope.InstanceId, envelope.ExecutionId, failed), ResultId(envelope), envelope.Incarnation, cancellationToken).ConfigureAwait(false);
            await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
            await this.TryDeleteLeaseAsync(leaseBlob, envelope.InstanceId).ConfigureAwait(false);
            await this.TryDeletePayloadAsync(envelope).ConfigureAwait(false);
            return null;
        }

        string? input = envelope.Input;
        if (envelope.PayloadBlob is { } blob)
        {
            try
            {
                Response<BlobDownloadResult> payload = await this.payloadsContainer.GetBlobClient(blob).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
                input = payload.Value.Content.ToString();
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                Log.MessageDropped(this.logger, receipt.MessageId, $"the input of activity '{envelope.Name}' (blob '{blob}') is gone with its instance");
                await TryDeleteMessageAsync(receipt, cancellationToken).ConfigureAwait(false);
                await this.TryDeleteLeaseAsync(leaseBlob, envelope.InstanceId).ConfigureAwait(false);
                return null;
            }
        }

        if (this.options.MaxWakeUpDelay == TimeSpan.Zero)
        {
            // Manual-clock test mode: the lease expires on the store's clock, so the message must not stay hidden
            // on the queue's clock. Visible again, it finds the lease held and is re-queued.
            await TryUpdateVisibilityAsync(receipt, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }

        this.wakeUps.Locked(WorkItemKind.Activity, envelope.Id, granted.ExpiresAt, now);
        var request = new ActivityRequest(envelope.InstanceId, envelope.ExecutionId, envelope.TaskId, envelope.Name, input);
        return new ActivityWorkItem(
            request,
            granted.Token!,
            (int)Math.Min(deliveries, int.MaxValue),
            new ActivityLockState(receipt, envelope, leaseBlob, granted, lease.ETag));
    }

    private async Task<string?> ReadIncarnationAsync(string instanceId, CancellationToken cancellationToken)
    {
        try
        {
            Response<BlobProperties> properties = await this.instancesContainer.GetBlobClient(StorageNames.InstanceBlob(instanceId))
                .GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return properties.Value.Metadata.TryGetValue("inc", out string? inc) ? inc : string.Empty;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    private async Task TryDeletePayloadAsync(QueueEnvelope envelope)
    {
        if (envelope.PayloadBlob is not { } blob)
        {
            return;
        }

        try
        {
            await this.payloadsContainer.DeleteBlobIfExistsAsync(blob).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            Log.CleanupFailed(this.logger, envelope.InstanceId ?? string.Empty, ex);
        }
    }

    private void RouteToSelf(InstanceDocument doc, string messageId, OrchestrationMessage message)
    {
        if (message.Event is ExecutionStartedEvent es
            && !string.Equals(doc.Record.ExecutionId, es.ExecutionId, StringComparison.Ordinal)
            && InstanceCreation.RejectionFor(message, doc.Record.Status) is { } rejection)
        {
            string rejectionId = messageId + "-rejected";
            if (string.Equals(rejection.InstanceId, doc.Record.InstanceId, StringComparison.Ordinal))
            {
                doc.Enqueue(rejectionId, rejection);
            }
            else
            {
                doc.Outbox.Add(new OutboxEntry { Id = rejectionId, Kind = OutboxKind.Message, Message = rejection });
            }

            return;
        }

        if (!doc.Knows(messageId))
        {
            doc.Enqueue(messageId, message);
        }
    }

    private sealed record LockResult(LockKind Kind, DateTime? Until, string? Token, StoredDocument? Document, IReadOnlyList<InboxEntry> Messages)
    {
        public static LockResult Of(LockKind kind, DateTime? until = null) => new(kind, until, null, null, Array.Empty<InboxEntry>());
    }
}

/// <summary>The work of one queue message delivered by a Functions trigger: an orchestration step or an activity.</summary>
public sealed class QueueWorkItem
{
    /// <summary>Wraps an orchestration step.</summary>
    public QueueWorkItem(OrchestrationWorkItem orchestration)
    {
        this.Kind = WorkItemKind.Orchestration;
        this.Orchestration = orchestration;
    }

    /// <summary>Wraps an activity.</summary>
    public QueueWorkItem(ActivityWorkItem activity)
    {
        this.Kind = WorkItemKind.Activity;
        this.Activity = activity;
    }

    /// <summary>Which of the two it is.</summary>
    public WorkItemKind Kind { get; }

    /// <summary>The orchestration step, when <see cref="Kind"/> is Orchestration.</summary>
    public OrchestrationWorkItem? Orchestration { get; }

    /// <summary>The activity, when <see cref="Kind"/> is Activity.</summary>
    public ActivityWorkItem? Activity { get; }
}
