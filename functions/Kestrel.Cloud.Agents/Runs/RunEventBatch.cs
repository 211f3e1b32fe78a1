namespace Kestrel.Cloud.Agents.Runs;

/// <summary>The append steps every run event log shares (in memory, SQLite, blobs): batch checks, de-duplication and the size limit.</summary>
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

    /// <summary>Throws <see cref="RunEventLogFullException"/> when a run holding <paramref name="count"/> events cannot take <paramref name="fresh"/> more (<see cref="RunEventLogLimits.MaxEventsPerRun"/>).</summary>
    public static void EnsureRoom(string runId, long count, int fresh)
    {
        if (count + fresh > RunEventLogLimits.MaxEventsPerRun)
        {
            throw new RunEventLogFullException($"The run {runId} already holds {count} events; a run may hold at most {RunEventLogLimits.MaxEventsPerRun}.");
        }
    }
}
