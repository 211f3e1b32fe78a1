using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// What this process knows about when work becomes available, for <c>GetNextWakeUpTimeAsync</c>: the due times of
/// work it queued (timers, delayed retries, new work due now) and the expiry of the locks it holds, per work item
/// key (an instance id, or an activity message id). Invisible queue messages cannot be read back, so work queued or
/// locked by other processes is found by polling.
/// <para>
/// Following the store contract, a due time that has passed is kept (the answer is then a time at or before now)
/// until the work is taken (<see cref="Locked"/>) or a fetch finds the queue with nothing for this process
/// (<see cref="FetchFoundNothing"/>); a held lock counts from its expiry until it is released.
/// </para>
/// </summary>
internal sealed class WakeUpTracker
{
    /// <summary>Most keys tracked per kind; past that, new entries are not tracked (polling still finds the work).</summary>
    private const int MaxTrackedKeys = 10_000;

    private readonly object gate = new();
    private readonly Dictionary<string, KeyState>[] keys = [new(StringComparer.Ordinal), new(StringComparer.Ordinal)];

    /// <summary>Work for <paramref name="key"/> becomes available at <paramref name="at"/>.</summary>
    public void Due(WorkItemKind kind, string key, DateTime at)
    {
        lock (this.gate)
        {
            if (this.StateOf(kind, key) is { } state)
            {
                state.Due.Add(at);
            }
        }
    }

    /// <summary>This process locked <paramref name="key"/> until <paramref name="until"/>: the work due by <paramref name="now"/> was taken.</summary>
    public void Locked(WorkItemKind kind, string key, DateTime until, DateTime now)
    {
        lock (this.gate)
        {
            if (this.StateOf(kind, key) is { } state)
            {
                state.Due.RemoveWhere(d => d <= now);
                state.LockedUntil = until;
            }
        }
    }

    /// <summary>This process no longer holds the lock of <paramref name="key"/> (completed, abandoned or lost).</summary>
    public void Released(WorkItemKind kind, string key)
    {
        lock (this.gate)
        {
            Dictionary<string, KeyState> map = this.keys[(int)kind];
            if (map.TryGetValue(key, out KeyState? state))
            {
                state.LockedUntil = null;
                if (state.Due.Count == 0)
                {
                    map.Remove(key);
                }
            }
        }
    }

    /// <summary>
    /// A fetch saw every visible message of the queue and locked nothing: work that was due by <paramref name="now"/>
    /// has been taken elsewhere (or re-queued with a new due time), and locks that expired by then are no longer ours.
    /// </summary>
    public void FetchFoundNothing(WorkItemKind kind, DateTime now)
    {
        lock (this.gate)
        {
            Dictionary<string, KeyState> map = this.keys[(int)kind];
            var empty = new List<string>();
            foreach ((string key, KeyState state) in map)
            {
                state.Due.RemoveWhere(d => d <= now);
                if (state.LockedUntil <= now)
                {
                    state.LockedUntil = null;
                }

                if (state.Due.Count == 0 && state.LockedUntil is null)
                {
                    empty.Add(key);
                }
            }

            foreach (string key in empty)
            {
                map.Remove(key);
            }
        }
    }

    /// <summary>The earliest time tracked work becomes available (possibly at or before now), or null when none is tracked.</summary>
    public DateTime? Next(WorkItemKind kind)
    {
        lock (this.gate)
        {
            DateTime? next = null;
            foreach (KeyState state in this.keys[(int)kind].Values)
            {
                DateTime? at = state.LockedUntil is { } until
                    ? until // work of a locked key is not available before the lock expires
                    : state.Due.Count > 0 ? state.Due.Min : null;
                if (at is { } a && (next is null || a < next))
                {
                    next = a;
                }
            }

            return next;
        }
    }

    private KeyState? StateOf(WorkItemKind kind, string key)
    {
        Dictionary<string, KeyState> map = this.keys[(int)kind];
        if (!map.TryGetValue(key, out KeyState? state))
        {
            if (map.Count >= MaxTrackedKeys)
            {
                return null;
            }

            state = new KeyState();
            map.Add(key, state);
        }

        return state;
    }

    private sealed class KeyState
    {
        public SortedSet<DateTime> Due { get; } = new();

        public DateTime? LockedUntil { get; set; }
    }
}
