using System.Text.Json;

namespace Kestrel.Cloud.Agents.Runs;

/// <summary>
/// One entry of a run's event log, as stored: a sequence number (1, 2, 3… per run, no gaps), its type
/// (<see cref="RunEventTypes"/>), when it was appended, and its data (a JSON object whose shape depends on the type).
/// </summary>
public sealed record RunEvent(long Sequence, string Type, DateTimeOffset Timestamp, JsonElement Data);

/// <summary>
/// An event to append. <paramref name="Key"/> is an idempotency key unique within the run (for example
/// <c>step-3/call_ab12/result</c>): appends come from activities, which run at least once, so an event whose key is
/// already in the log is skipped instead of appended twice.
/// </summary>
public sealed record NewRunEvent(string Key, string Type, JsonElement Data)
{
    /// <summary>Creates an event whose data is <paramref name="data"/> serialized with the web defaults (camelCase).</summary>
    public static NewRunEvent Create<T>(string key, string type, T data) =>
        new(key, type, JsonSerializer.SerializeToElement(data, RunJson.Options));
}

/// <summary>The JSON settings of run events, sessions and the run API (web defaults: camelCase, enums as strings).</summary>
public static class RunJson
{
    /// <summary>camelCase names, case-insensitive reads, enums as camelCase strings, nulls omitted.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
