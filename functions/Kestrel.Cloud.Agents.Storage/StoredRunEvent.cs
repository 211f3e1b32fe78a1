using System.Text.Json;
using System.Text.Json.Serialization;
using Kestrel.Cloud.Agents.Runs;

namespace Kestrel.Cloud.Agents.Storage;

/// <summary>Helpers shared by the run event logs: batch checks and de-duplication.</summary>
internal static class RunEventBatch
{
    /// <summary>Checks every event (key and size, <see cref="RunEventLogChecks.CheckSize"/>) before anything is written: a bad one rejects the batch.</summary>
    public static void CheckAll(string runId, IReadOnlyList<NewRunEvent> events)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(events);
        foreach (NewRunEvent e in events)
        {
            RunEventLogChecks.CheckSize(runId, e);
        }
    }

    /// <summary>The events whose key is new to the run and to the batch, in order.</summary>
    public static List<NewRunEvent> Fresh(IReadOnlyList<NewRunEvent> events, Func<string, bool> existing) =>
        events.Where(e => !existing(e.Key)).DistinctBy(e => e.Key, StringComparer.Ordinal).ToList();

    /// <summary>The exception for a run whose log would pass <see cref="RunEventLogLimits.MaxEventsPerRun"/>.</summary>
    public static RunEventLogFullException Full(string runId, long count) =>
        new($"The run {runId} already holds {count} events; a run may hold at most {RunEventLogLimits.MaxEventsPerRun}.");
}

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
