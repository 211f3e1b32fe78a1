using System.Text.Json;
using System.Text.Json.Serialization;
using Kestrel.Cloud.Agents.Runs;

namespace Kestrel.Cloud.Agents.Storage;

/// <summary>One event as a line of a run's append blob.</summary>
internal sealed record StoredRunEvent(
    [property: JsonPropertyName("s")] long Sequence,
    [property: JsonPropertyName("k")] string Key,
    [property: JsonPropertyName("t")] string Type,
    [property: JsonPropertyName("ts")] DateTimeOffset Timestamp,
    [property: JsonPropertyName("d")] JsonElement Data)
{
    public RunEvent ToRunEvent() => new(this.Sequence, this.Type, this.Timestamp, this.Data);
}
