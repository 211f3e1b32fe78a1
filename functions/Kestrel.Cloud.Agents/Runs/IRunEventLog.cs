namespace Kestrel.Cloud.Agents.Runs;

/// <summary>
/// The durable, ordered event log of every run: what the SSE stream, bots and clients read. One implementation
/// per store (in-memory, SQLite, Azure blobs), readable from any process that reaches the store.
/// </summary>
public interface IRunEventLog
{
    /// <summary>
    /// Appends <paramref name="events"/> in order, atomically (all or none), skipping any whose
    /// <see cref="NewRunEvent.Key"/> the run's log already holds. Returns the run's last sequence number afterwards.
    /// </summary>
    /// <exception cref="RunEventLogFullException">The run already holds the maximum number of events or bytes.</exception>
    Task<long> AppendAsync(string runId, IReadOnlyList<NewRunEvent> events, CancellationToken cancellationToken = default);

    /// <summary>Events with a sequence number greater than <paramref name="afterSequence"/>, oldest first, at most <paramref name="maxCount"/>.</summary>
    Task<IReadOnlyList<RunEvent>> ReadAsync(string runId, long afterSequence, int maxCount = 1000, CancellationToken cancellationToken = default);

    /// <summary>
    /// Completes when the run may have events after <paramref name="afterSequence"/>: at once when it has, on an
    /// in-process append, or after at most <paramref name="maxWait"/> (events appended by other processes are found by
    /// the caller's next read). Never throws on timeout; throws only when cancelled.
    /// </summary>
    Task WaitAsync(string runId, long afterSequence, TimeSpan maxWait, CancellationToken cancellationToken = default);

    /// <summary>Deletes a run's log; false when there was none.</summary>
    Task<bool> DeleteAsync(string runId, CancellationToken cancellationToken = default);
}

/// <summary>A run's log reached its limit (<see cref="RunEventLogLimits"/>).</summary>
public sealed class RunEventLogFullException(string message) : InvalidOperationException(message);

/// <summary>Limits every run event log enforces.</summary>
public static class RunEventLogLimits
{
    /// <summary>Most events one run may hold.</summary>
    public const int MaxEventsPerRun = 10_000;

    /// <summary>Largest serialized data of one event, in bytes (larger text is truncated by the writer before appending).</summary>
    public const int MaxEventDataSizeBytes = 64 * 1024;
}
