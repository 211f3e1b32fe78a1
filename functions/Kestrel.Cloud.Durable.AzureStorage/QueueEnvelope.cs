using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// The JSON body of every queue message the store writes (base64-encoded on the wire, as the Functions queue
/// trigger expects). Kind "wake" asks a worker to look at an instance's inbox; kind "activity" is an activity
/// work item; a message too large for a queue is stored in the payloads container and sent as a reference.
/// </summary>
internal sealed class QueueEnvelope
{
    public const string WakeKind = "wake";
    public const string ActivityKind = "activity";

    [JsonPropertyName("k")]
    public required string Kind { get; set; }

    /// <summary>Our id of the message (stable across dequeues; the queue's own id is not kept in a payload blob).</summary>
    [JsonPropertyName("id")]
    public required string Id { get; set; }

    [JsonPropertyName("i")]
    public string? InstanceId { get; set; }

    /// <summary>Wake: not to be acted on before this time (a timer); the message may arrive early after a capped delay.</summary>
    [JsonPropertyName("due")]
    public DateTime? DueAt { get; set; }

    /// <summary>Activity: the incarnation of the instance that scheduled it (a replaced or purged instance's activities are dropped).</summary>
    [JsonPropertyName("inc")]
    public string? Incarnation { get; set; }

    [JsonPropertyName("x")]
    public string? ExecutionId { get; set; }

    [JsonPropertyName("t")]
    public int TaskId { get; set; }

    [JsonPropertyName("n")]
    public string? Name { get; set; }

    [JsonPropertyName("in")]
    public string? Input { get; set; }

    /// <summary>Set when the whole envelope is stored in this blob of the payloads container.</summary>
    [JsonPropertyName("ref")]
    public string? PayloadBlob { get; set; }

    /// <summary>
    /// Parses a message as the queue, or the Functions host, delivered it: JSON, or JSON encoded a second time
    /// as a JSON string, or still base64. Returns null when it is none of these.
    /// </summary>
    public static QueueEnvelope? TryParse(string? text)
    {
        for (int depth = 0; depth < 3 && !string.IsNullOrWhiteSpace(text); depth++)
        {
            string trimmed = text.Trim();
            try
            {
                if (trimmed[0] == '{')
                {
                    QueueEnvelope? envelope = JsonSerializer.Deserialize<QueueEnvelope>(trimmed, StoreJson.Options);
                    return envelope is { Kind: not null, Id: not null } ? envelope : null;
                }

                if (trimmed[0] == '"')
                {
                    text = JsonSerializer.Deserialize<string>(trimmed);
                    continue;
                }

                text = Encoding.UTF8.GetString(Convert.FromBase64String(trimmed));
            }
            catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException)
            {
                return null;
            }
        }

        return null;
    }

    public string ToJson() => JsonSerializer.Serialize(this, StoreJson.Options);
}

/// <summary>What the store puts in the poison queue: the original message and why it was set aside.</summary>
internal sealed class PoisonRecord
{
    public required string Queue { get; set; }

    public required string MessageId { get; set; }

    public long DequeueCount { get; set; }

    public required string Reason { get; set; }

    public string? InstanceId { get; set; }

    public required string OriginalMessage { get; set; }

    public DateTime PoisonedAt { get; set; }
}
