using System.Text.Json;
using System.Text.Json.Serialization;
using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.Sqlite;

/// <summary>Source-generated JSON for what the store keeps as text: messages, history events, failures.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(OrchestrationMessage))]
[JsonSerializable(typeof(HistoryEvent))]
[JsonSerializable(typeof(TaskFailureDetails))]
internal sealed partial class StoreJsonContext : JsonSerializerContext
{
}

/// <summary>Reads and writes the store's JSON columns.</summary>
internal static class StoreJson
{
    public static string Serialize(OrchestrationMessage message) => JsonSerializer.Serialize(message, StoreJsonContext.Default.OrchestrationMessage);

    public static string Serialize(HistoryEvent historyEvent) => JsonSerializer.Serialize(historyEvent, StoreJsonContext.Default.HistoryEvent);

    public static string? Serialize(TaskFailureDetails? failure) =>
        failure is null ? null : JsonSerializer.Serialize(failure, StoreJsonContext.Default.TaskFailureDetails);

    public static OrchestrationMessage ReadMessage(string json) =>
        JsonSerializer.Deserialize(json, StoreJsonContext.Default.OrchestrationMessage)
        ?? throw new InvalidDataException("A stored inbox message is the JSON literal null; the database is damaged.");

    public static HistoryEvent ReadEvent(string json) =>
        JsonSerializer.Deserialize(json, StoreJsonContext.Default.HistoryEvent)
        ?? throw new InvalidDataException("A stored history event is the JSON literal null; the database is damaged.");

    public static TaskFailureDetails? ReadFailure(string? json) =>
        json is null ? null : JsonSerializer.Deserialize(json, StoreJsonContext.Default.TaskFailureDetails);
}
