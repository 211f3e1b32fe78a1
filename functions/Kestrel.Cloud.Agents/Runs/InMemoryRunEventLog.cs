using System.Collections.Concurrent;
using System.Text.Json;

namespace Kestrel.Cloud.Agents.Runs;

/// <summary>A run event log held in process memory (the <c>memory</c> store and tests). Lost when the process ends.</summary>
public sealed class InMemoryRunEventLog : IRunEventLog
{
    private readonly ConcurrentDictionary<string, RunLog> runs = new(StringComparer.Ordinal);
    private readonly TimeProvider timeProvider;

    /// <summary>Creates an empty log; timestamps come from <paramref name="timeProvider"/>.</summary>
    public InMemoryRunEventLog(TimeProvider? timeProvider = null) => this.timeProvider = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public Task<long> AppendAsync(string runId, IReadOnlyList<NewRunEvent> events, CancellationToken cancellationToken = default)
    {
        // Every event is checked before any is added, so a bad one rejects the whole batch (all or none).
        RunEventBatch.CheckAll(runId, events);

        RunLog log = this.runs.GetOrAdd(runId, _ => new RunLog());
        TaskCompletionSource? toWake;
        long last;
        lock (log)
        {
            List<NewRunEvent> fresh = RunEventBatch.Fresh(events, log.Keys.Contains);
            RunEventBatch.EnsureRoom(runId, log.Events.Count, fresh.Count);

            foreach (NewRunEvent e in fresh)
            {
                log.Keys.Add(e.Key);
                log.Events.Add(new RunEvent(log.Events.Count + 1, e.Type, this.timeProvider.GetUtcNow(), e.Data.Clone()));
            }

            last = log.Events.Count;
            toWake = fresh.Count > 0 ? log.Waiters : null;
            if (toWake is not null)
            {
                log.Waiters = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        toWake?.TrySetResult();
        return Task.FromResult(last);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RunEvent>> ReadAsync(string runId, long afterSequence, int maxCount = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        if (!this.runs.TryGetValue(runId, out RunLog? log))
        {
            return Task.FromResult<IReadOnlyList<RunEvent>>(Array.Empty<RunEvent>());
        }

        lock (log)
        {
            int skip = (int)Math.Clamp(afterSequence, 0, log.Events.Count);
            return Task.FromResult<IReadOnlyList<RunEvent>>(log.Events.Skip(skip).Take(maxCount).ToList());
        }
    }

    /// <inheritdoc />
    public async Task WaitAsync(string runId, long afterSequence, TimeSpan maxWait, CancellationToken cancellationToken = default)
    {
        RunLog log = this.runs.GetOrAdd(runId, _ => new RunLog());
        Task waiter;
        lock (log)
        {
            if (log.Events.Count > afterSequence)
            {
                return;
            }

            waiter = log.Waiters.Task;
        }

        try
        {
            await waiter.WaitAsync(maxWait, this.timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <inheritdoc />
    public Task<bool> DeleteAsync(string runId, CancellationToken cancellationToken = default) =>
        Task.FromResult(this.runs.TryRemove(runId, out RunLog? log) && log.Events.Count > 0);

    private sealed class RunLog
    {
        public List<RunEvent> Events { get; } = new();

        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);

        public TaskCompletionSource Waiters { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>Checks shared by every <see cref="IRunEventLog"/> implementation.</summary>
public static class RunEventLogChecks
{
    /// <summary>Throws <see cref="ArgumentException"/> when an event's key is empty or longer than 200 characters, or its data is larger than <see cref="RunEventLogLimits.MaxEventDataSizeBytes"/>.</summary>
    public static void CheckSize(string runId, NewRunEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (string.IsNullOrEmpty(e.Key) || e.Key.Length > 200)
        {
            throw new ArgumentException($"A run event key must be 1-200 characters (run {runId}).", nameof(e));
        }

        int size = System.Text.Encoding.UTF8.GetByteCount(e.Data.GetRawText());
        if (size > RunEventLogLimits.MaxEventDataSizeBytes)
        {
            throw new ArgumentException($"The {e.Type} event of run {runId} has {size} bytes of data; an event may carry at most {RunEventLogLimits.MaxEventDataSizeBytes} (truncate text before appending).", nameof(e));
        }
    }
}
