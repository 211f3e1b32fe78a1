using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// When work this process hid in a queue (timers, delayed retries) becomes visible, so an idle dispatcher
/// wakes then instead of at its next poll. Invisible queue messages cannot be read back, so work hidden by
/// other processes is found by polling.
/// </summary>
internal sealed class WakeUpTracker
{
    private const int MaxTracked = 10_000;
    private readonly object gate = new();
    private readonly SortedSet<DateTime>[] due = [new SortedSet<DateTime>(), new SortedSet<DateTime>()];

    public void Add(WorkItemKind kind, DateTime at)
    {
        lock (this.gate)
        {
            SortedSet<DateTime> set = this.due[(int)kind];
            set.Add(at);
            if (set.Count > MaxTracked)
            {
                set.Remove(set.Max);
            }
        }
    }

    public DateTime? Next(WorkItemKind kind, DateTime now)
    {
        lock (this.gate)
        {
            SortedSet<DateTime> set = this.due[(int)kind];
            while (set.Count > 0 && set.Min <= now)
            {
                set.Remove(set.Min);
            }

            return set.Count > 0 ? set.Min : null;
        }
    }
}
