using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// The one blob that holds an instance: its record, the lock, the inbox (messages not yet applied), the
/// outbox (work of the last committed step not yet dispatched), where its history lives, and the ids of
/// recently applied messages. Every change is a read-modify-write with If-Match on the blob's ETag.
/// </summary>
internal sealed class InstanceDocument
{
    /// <summary>The schema version written by this code.</summary>
    public const int CurrentVersion = 1;

    public int Version { get; set; } = CurrentVersion;

    /// <summary>Changes when the instance is created or replaced (not on ContinueAsNew); names its history folder.</summary>
    public required string Incarnation { get; set; }

    public required InstanceRecord Record { get; set; }

    public string? LockToken { get; set; }

    public DateTime LockExpiresAt { get; set; }

    /// <summary>Not locked for a step before this time (set by an abandon with a delay, so later messages cannot overtake).</summary>
    public DateTime NotBefore { get; set; }

    public long NextSeq { get; set; }

    public List<InboxEntry> Inbox { get; set; } = new();

    public List<OutboxEntry> Outbox { get; set; } = new();

    public List<HistorySegment> History { get; set; } = new();

    /// <summary>Ids of the most recently applied messages, oldest first.</summary>
    public List<string> AppliedIds { get; set; } = new();

    [JsonIgnore]
    public int HistoryCount => this.History.Sum(s => s.Count);

    public bool IsLockedAt(DateTime now) => this.LockToken is not null && this.LockExpiresAt > now;

    /// <summary>Unlocked, with inbox messages visible at <paramref name="now"/>.</summary>
    public bool HasMessagesWaitingAt(DateTime now) => !this.IsLockedAt(now) && this.Inbox.Exists(e => e.VisibleAt <= now);

    public bool Knows(string messageId) =>
        this.Inbox.Exists(e => string.Equals(e.Id, messageId, StringComparison.Ordinal)) || this.AppliedIds.Contains(messageId, StringComparer.Ordinal);

    public void Enqueue(string messageId, OrchestrationMessage message) =>
        this.Inbox.Add(new InboxEntry { Id = messageId, Seq = this.NextSeq++, VisibleAt = message.VisibleAt ?? DateTime.MinValue, Message = message });

    public void RememberApplied(IEnumerable<string> ids, int keep)
    {
        this.AppliedIds.AddRange(ids);
        if (this.AppliedIds.Count > keep)
        {
            this.AppliedIds.RemoveRange(0, this.AppliedIds.Count - keep);
        }
    }

    /// <summary>The earliest time a not-yet-visible inbox message becomes visible, or null.</summary>
    public DateTime? EarliestFutureMessage(DateTime now)
    {
        DateTime? next = null;
        foreach (InboxEntry e in this.Inbox)
        {
            if (e.VisibleAt > now && (next is null || e.VisibleAt < next))
            {
                next = e.VisibleAt;
            }
        }

        return next;
    }

    /// <summary>Checks the invariants of a document before it is written and after it is read.</summary>
    public void Validate(string instanceId)
    {
        string? problem =
            this.Version != CurrentVersion ? $"schema version {this.Version} is not {CurrentVersion}"
            : !string.Equals(this.Record.InstanceId, instanceId, StringComparison.Ordinal) ? $"it holds instance '{this.Record.InstanceId}'"
            : this.Record.HistoryCount != this.HistoryCount ? $"its record counts {this.Record.HistoryCount} history events but its segments hold {this.HistoryCount}"
            : this.Inbox.Select(e => e.Id).Distinct(StringComparer.Ordinal).Count() != this.Inbox.Count ? "its inbox holds a message id twice"
            : null;
        if (problem is not null)
        {
            throw new InvalidDataException($"The stored document of instance '{instanceId}' is not valid: {problem}.");
        }
    }
}

/// <summary>A message in an instance's inbox.</summary>
internal sealed class InboxEntry
{
    public required string Id { get; set; }

    public long Seq { get; set; }

    public DateTime VisibleAt { get; set; }

    public int DeliveryCount { get; set; }

    public required OrchestrationMessage Message { get; set; }
}

/// <summary>The kinds of work a committed step leaves to dispatch.</summary>
internal enum OutboxKind
{
    /// <summary>Send an activity work item.</summary>
    Activity,

    /// <summary>Append a message to another instance's inbox (creating it for a start) and wake it.</summary>
    Message,

    /// <summary>Send a wake-up for this instance (messages to itself, timers).</summary>
    Wake,
}

/// <summary>One piece of work a committed step produced, dispatched after the commit.</summary>
internal sealed class OutboxEntry
{
    public required string Id { get; set; }

    public OutboxKind Kind { get; set; }

    public ActivityRequest? Activity { get; set; }

    public OrchestrationMessage? Message { get; set; }

    public DateTime DueAt { get; set; }
}

/// <summary>A range of an append blob holding history events as JSON lines.</summary>
internal sealed class HistorySegment
{
    public required string Blob { get; set; }

    /// <summary>Committed bytes; anything after this was written by a step that did not commit and is ignored.</summary>
    public long Length { get; set; }

    public int Count { get; set; }

    public int Blocks { get; set; }
}

/// <summary>The JSON shapes of the store.</summary>
internal static class StoreJson
{
    public static readonly JsonSerializerOptions Options = CreateOptions();

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    public static T Deserialize<T>(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize<T>(utf8, Options) ?? throw new InvalidDataException($"A stored {typeof(T).Name} was null.");

    public static string Ticks(DateTime t) => t.Ticks.ToString(CultureInfo.InvariantCulture);

    private static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            AllowOutOfOrderMetadataProperties = true,
        };
        o.Converters.Add(new JsonStringEnumConverter());
        o.Converters.Add(new UtcDateTimeConverter());
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }

    /// <summary>Writes and reads every DateTime as UTC with full precision ("O").</summary>
    private sealed class UtcDateTimeConverter : JsonConverter<DateTime>
    {
        public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTime.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

        public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options) =>
            writer.WriteStringValue(DateTime.SpecifyKind(value, DateTimeKind.Utc).ToString("O", CultureInfo.InvariantCulture));
    }
}
