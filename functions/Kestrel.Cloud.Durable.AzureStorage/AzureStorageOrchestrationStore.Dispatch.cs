using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>What happened to a message routed to an instance.</summary>
internal enum RouteOutcomeKind
{
    Created,
    Replaced,
    Enqueued,
    AlreadyInInbox,
    AlreadyApplied,
    Dropped,
    Rejected,
    NeedsRepair,
}

/// <summary>The outcome of routing, with what the caller must do next.</summary>
internal readonly record struct RouteOutcome(RouteOutcomeKind Kind, string? OldIncarnation = null, OrchestrationMessage? Rejection = null)
{
    public static RouteOutcome Created => new(RouteOutcomeKind.Created);

    public static RouteOutcome NeedsRepair => new(RouteOutcomeKind.NeedsRepair);

    public static RouteOutcome Replaced(string oldIncarnation) => new(RouteOutcomeKind.Replaced, oldIncarnation);

    public static RouteOutcome Of(RouteOutcomeKind kind) => new(kind);

    public static RouteOutcome Rejected(OrchestrationMessage rejection) => new(RouteOutcomeKind.Rejected, Rejection: rejection);
}

/// <summary>Dispatching outboxes: activities, messages to other instances, wake-ups; poison handling.</summary>
public sealed partial class AzureStorageOrchestrationStore
{
    /// <summary>The error type of failures caused by poison messages.</summary>
    public const string PoisonErrorType = "Kestrel.Cloud.Durable.AzureStorage.PoisonMessage";

    /// <summary>Queue messages never expire by themselves (the service's default is 7 days).</summary>
    private static readonly TimeSpan NeverExpires = TimeSpan.FromSeconds(-1);

    /// <summary>Most rejections followed for one message (a rejection goes to a parent, which exists or not).</summary>
    private const int MaxRouteHops = 4;

    private async Task DispatchOutboxAsync(string sourceId, InstanceDocument doc, CancellationToken cancellationToken)
    {
        if (this.BeforeDispatch is { } hook)
        {
            await hook(sourceId).ConfigureAwait(false);
        }

        // Messages to one instance keep their order; activities, wake-ups and other instances go in parallel.
        var lanes = new List<List<OutboxEntry>>();
        lanes.AddRange(doc.Outbox.Where(e => e.Kind == OutboxKind.Activity).Select(e => new List<OutboxEntry> { e }));
        lanes.AddRange(doc.Outbox.Where(e => e.Kind == OutboxKind.Message).GroupBy(e => e.Message!.InstanceId, StringComparer.Ordinal).Select(g => g.ToList()));
        lanes.AddRange(doc.Outbox.Where(e => e.Kind == OutboxKind.Wake).Select(e => new List<OutboxEntry> { e }));
        string incarnation = doc.Incarnation;
        await Parallel.ForEachAsync(
            lanes,
            new ParallelOptions { MaxDegreeOfParallelism = DispatchParallelism, CancellationToken = cancellationToken },
            async (lane, token) =>
            {
                foreach (OutboxEntry entry in lane)
                {
                    switch (entry.Kind)
                    {
                        case OutboxKind.Activity:
                            await this.SendActivityAsync(entry.Id, entry.Activity!, incarnation, token).ConfigureAwait(false);
                            break;
                        case OutboxKind.Message:
                            await this.DeliverAsync(entry.Id, entry.Message!, token).ConfigureAwait(false);
                            break;
                        default:
                            await this.SendWakeAsync(sourceId, entry.DueAt, token).ConfigureAwait(false);
                            break;
                    }
                }
            }).ConfigureAwait(false);
    }

    /// <summary>Removes dispatched entries from the outbox; releases the lock when asked, if it is still ours and the outbox is empty.</summary>
    private async Task<StoredDocument?> ClearOutboxAsync(
        string instanceId, HashSet<string> dispatched, string? lockToken, bool releaseLock, StoredDocument? current, CancellationToken cancellationToken)
    {
        var (_, stored) = await this.MutateAsync(
            instanceId,
            doc =>
            {
                if (doc is null)
                {
                    return (null, false);
                }

                int removed = doc.Outbox.RemoveAll(e => dispatched.Contains(e.Id));
                bool release = releaseLock && lockToken is not null && doc.Outbox.Count == 0
                    && string.Equals(doc.LockToken, lockToken, StringComparison.Ordinal);
                if (removed == 0 && !release)
                {
                    return (null, false);
                }

                if (release)
                {
                    doc.LockToken = null;
                }

                return (doc, true);
            },
            current,
            cancellationToken).ConfigureAwait(false);
        return stored;
    }

    /// <summary>Re-dispatches the outbox of an instance whose last step committed but whose dispatch did not finish.</summary>
    private async Task RepairFinishedInstanceAsync(string instanceId, StoredDocument stored, CancellationToken cancellationToken)
    {
        Log.OutboxRepaired(this.logger, instanceId, stored.Doc.Outbox.Count);
        await this.DispatchOutboxAsync(instanceId, stored.Doc, cancellationToken).ConfigureAwait(false);
        await this.ClearOutboxAsync(instanceId, stored.Doc.Outbox.Select(e => e.Id).ToHashSet(StringComparer.Ordinal), null, false, null, cancellationToken).ConfigureAwait(false);
    }

    private void ThrowIfRepairLoops(string instanceId, int attempt)
    {
        if (attempt > this.options.MaxConflictRetries)
        {
            throw new StoreConcurrencyException(
                $"Instance '{instanceId}' finished with work left to dispatch, and it kept changing while that work was re-dispatched ({attempt} attempts); retry the operation.");
        }
    }

    /// <summary>Delivers a message produced by a step to its instance (creating it for a start), following a rejection to the parent.</summary>
    internal async Task DeliverAsync(string messageId, OrchestrationMessage message, CancellationToken cancellationToken)
    {
        string id = messageId;
        OrchestrationMessage? current = message;
        for (int hop = 0; current is not null && hop < MaxRouteHops; hop++)
        {
            RouteOutcome outcome = await this.RouteAsync(id, current, cancellationToken).ConfigureAwait(false);
            current = outcome.Rejection;
            id += "-rejected";
        }
    }

    private async Task<RouteOutcome> RouteAsync(string messageId, OrchestrationMessage message, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            var (outcome, stored) = await this.MutateAsync(message.InstanceId, doc => this.Route(doc, messageId, message), null, cancellationToken).ConfigureAwait(false);
            switch (outcome.Kind)
            {
                case RouteOutcomeKind.NeedsRepair:
                    this.ThrowIfRepairLoops(message.InstanceId, attempt);
                    await this.RepairFinishedInstanceAsync(message.InstanceId, stored!, cancellationToken).ConfigureAwait(false);
                    continue;
                case RouteOutcomeKind.Created or RouteOutcomeKind.Replaced:
                    await this.AfterCreatedAsync(message.InstanceId, outcome, message, cancellationToken).ConfigureAwait(false);
                    break;
                case RouteOutcomeKind.Enqueued or RouteOutcomeKind.AlreadyInInbox:
                    // Also for a duplicate still in the inbox: the first delivery may have died before its wake-up.
                    await this.SendWakeAsync(message.InstanceId, message.VisibleAt ?? this.Now, cancellationToken).ConfigureAwait(false);
                    break;
            }

            return outcome;
        }
    }

    /// <summary>The routing rules of <see cref="InMemoryOrchestrationStore"/>, on one document; no side effects.</summary>
    private (InstanceDocument? Write, RouteOutcome Outcome) Route(InstanceDocument? doc, string messageId, OrchestrationMessage message)
    {
        if (message.Event is ExecutionStartedEvent es && (doc is null || !string.Equals(doc.Record.ExecutionId, es.ExecutionId, StringComparison.Ordinal)))
        {
            if (InstanceCreation.RejectionFor(message, doc?.Record.Status) is { } rejection)
            {
                return (null, RouteOutcome.Rejected(rejection));
            }

            if (doc is null || doc.Record.Status.IsTerminal())
            {
                if (doc is not null && doc.Outbox.Count > 0)
                {
                    return (null, RouteOutcome.NeedsRepair);
                }

                return (this.NewDocument(messageId, message, es), doc is null ? RouteOutcome.Created : RouteOutcome.Replaced(doc.Incarnation));
            }
        }

        return Enqueue(doc, messageId, message, incarnation: null);
    }

    private static (InstanceDocument? Write, RouteOutcome Outcome) Enqueue(InstanceDocument? doc, string messageId, OrchestrationMessage message, string? incarnation)
    {
        if (doc is null || (incarnation is not null && !string.Equals(doc.Incarnation, incarnation, StringComparison.Ordinal)))
        {
            return (null, RouteOutcome.Of(RouteOutcomeKind.Dropped)); // messages for instances that do not exist are dropped
        }

        if (doc.Inbox.Exists(e => string.Equals(e.Id, messageId, StringComparison.Ordinal)))
        {
            return (null, RouteOutcome.Of(RouteOutcomeKind.AlreadyInInbox));
        }

        if (doc.AppliedIds.Contains(messageId, StringComparer.Ordinal))
        {
            return (null, RouteOutcome.Of(RouteOutcomeKind.AlreadyApplied));
        }

        doc.Enqueue(messageId, message);
        return (doc, RouteOutcome.Of(RouteOutcomeKind.Enqueued));
    }

    /// <summary>Appends a message to an existing instance's inbox and wakes it; false when the instance (of that incarnation) does not exist.</summary>
    private async Task<bool> AppendToInboxAsync(OrchestrationMessage message, string messageId, string? incarnation, CancellationToken cancellationToken)
    {
        var (outcome, _) = await this.MutateAsync(message.InstanceId, doc => Enqueue(doc, messageId, message, incarnation), null, cancellationToken).ConfigureAwait(false);
        if (outcome.Kind is RouteOutcomeKind.Enqueued or RouteOutcomeKind.AlreadyInInbox)
        {
            await this.SendWakeAsync(message.InstanceId, message.VisibleAt ?? this.Now, cancellationToken).ConfigureAwait(false);
        }

        return outcome.Kind != RouteOutcomeKind.Dropped;
    }

    /// <summary>
    /// Sends a wake-up for an instance, hidden until <paramref name="dueAt"/> (at most MaxWakeUpDelay; re-sent
    /// when it comes early). Returns the wake-up's id.
    /// </summary>
    private async Task<string> SendWakeAsync(string instanceId, DateTime dueAt, CancellationToken cancellationToken)
    {
        DateTime now = this.Now;
        TimeSpan delay = this.VisibilityDelay(dueAt - now);
        var envelope = new QueueEnvelope
        {
            Kind = QueueEnvelope.WakeKind,
            Id = NewId(),
            InstanceId = instanceId,
            DueAt = dueAt > now ? dueAt : null,
        };
        await this.controlQueue.SendMessageAsync(envelope.ToJson(), delay, NeverExpires, cancellationToken).ConfigureAwait(false);
        if (dueAt > now)
        {
            // Hidden until the delay passes; with MaxWakeUpDelay zero, visible but not due until dueAt.
            this.wakeUps.Due(WorkItemKind.Orchestration, instanceId, delay > TimeSpan.Zero ? now + delay : dueAt);
        }
        else
        {
            this.wakeUps.Due(WorkItemKind.Orchestration, instanceId, now);
            this.Signals.NotifyOrchestrationWork();
        }

        return envelope.Id;
    }

    private async Task SendActivityAsync(string messageId, ActivityRequest request, string incarnation, CancellationToken cancellationToken)
    {
        var envelope = new QueueEnvelope
        {
            Kind = QueueEnvelope.ActivityKind,
            Id = messageId,
            InstanceId = request.InstanceId,
            ExecutionId = request.ExecutionId,
            TaskId = request.TaskId,
            Name = request.Name,
            Input = request.Input,
            Incarnation = incarnation,
        };
        string json = envelope.ToJson();
        if (Encoding.UTF8.GetByteCount(json) > this.options.MaxInlineMessageSizeBytes && request.Input is not null)
        {
            // Too large for a queue message: the input goes to a blob and the message references it.
            string blob = StorageNames.PayloadBlob(request.InstanceId, incarnation, messageId);
            await this.payloadsContainer.GetBlobClient(blob).UploadAsync(BinaryData.FromString(request.Input), overwrite: true, cancellationToken).ConfigureAwait(false);
            envelope.Input = null;
            envelope.PayloadBlob = blob;
            json = envelope.ToJson();
        }

        await this.activityQueue.SendMessageAsync(json, TimeSpan.Zero, NeverExpires, cancellationToken).ConfigureAwait(false);
        this.wakeUps.Due(WorkItemKind.Activity, messageId, this.Now);
        this.Signals.NotifyActivityWork();
    }

    /// <summary>Copies a message to the poison queue with the reason (the caller then deletes the original).</summary>
    private async Task SendToPoisonQueueAsync(QueueReceipt receipt, long dequeueCount, string reason, string? instanceId, CancellationToken cancellationToken)
    {
        Log.Poisoned(this.logger, receipt.MessageId, receipt.Queue.Name, dequeueCount, reason);
        var record = new PoisonRecord
        {
            Queue = receipt.Queue.Name,
            MessageId = receipt.MessageId,
            DequeueCount = dequeueCount,
            Reason = reason,
            InstanceId = instanceId,
            OriginalMessage = receipt.Text.Length <= this.options.MaxInlineMessageSizeBytes / 2
                ? receipt.Text
                : receipt.Text[..(this.options.MaxInlineMessageSizeBytes / 2)] + "…(truncated)",
            PoisonedAt = this.Now,
        };
        await this.poisonQueue.SendMessageAsync(JsonSerializer.Serialize(record, StoreJson.Options), null, NeverExpires, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a queue message; false when the receipt is stale (another worker holds the message, or it is gone).</summary>
    private static async Task<bool> TryDeleteMessageAsync(QueueReceipt receipt, CancellationToken cancellationToken)
    {
        try
        {
            await receipt.Queue.DeleteMessageAsync(receipt.MessageId, receipt.PopReceipt, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (IsStaleReceipt(ex))
        {
            return false;
        }
    }

    /// <summary>Hides a message for <paramref name="visibility"/> and takes the new receipt; false when the receipt is stale.</summary>
    private static async Task<bool> TryUpdateVisibilityAsync(QueueReceipt receipt, TimeSpan visibility, CancellationToken cancellationToken)
    {
        try
        {
            Response<UpdateReceipt> response = await receipt.Queue.UpdateMessageAsync(receipt.MessageId, receipt.PopReceipt, receipt.Text, visibility, cancellationToken).ConfigureAwait(false);
            receipt.PopReceipt = response.Value.PopReceipt;
            return true;
        }
        catch (RequestFailedException ex) when (IsStaleReceipt(ex))
        {
            return false;
        }
    }

    private static bool IsStaleReceipt(RequestFailedException ex) =>
        ex.Status == 404 || string.Equals(ex.ErrorCode, "PopReceiptMismatch", StringComparison.Ordinal);

    /// <summary>A queue visibility delay: whole seconds rounded up (the service's unit), at most MaxWakeUpDelay.</summary>
    private TimeSpan VisibilityDelay(TimeSpan wanted)
    {
        if (wanted <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        TimeSpan rounded = TimeSpan.FromSeconds(Math.Ceiling(wanted.TotalSeconds));
        return rounded < this.options.MaxWakeUpDelay ? rounded : this.options.MaxWakeUpDelay;
    }
}

/// <summary>A delivered queue message: where it came from, how to prove we hold it, and its text.</summary>
internal sealed class QueueReceipt
{
    public QueueReceipt(QueueClient queue, string messageId, string popReceipt, string text)
    {
        this.Queue = queue;
        this.MessageId = messageId;
        this.PopReceipt = popReceipt;
        this.Text = text;
    }

    public QueueClient Queue { get; }

    public string MessageId { get; }

    /// <summary>Changes on every visibility update.</summary>
    public string PopReceipt { get; set; }

    public string Text { get; }
}
