using Kestrel.Cloud.Durable.Replay;

namespace Kestrel.Cloud.Durable.Worker;

/// <summary>
/// Keeps recently stepped orchestrations replayed in memory (least recently used first out), so the next
/// step feeds only new messages instead of replaying the whole history. An entry is used only when its
/// execution id and history count match the stored instance; a mismatch means another worker moved it on.
/// </summary>
internal sealed class ReplayCache
{
    private readonly object gate = new();
    private readonly int capacity;
    private readonly Dictionary<string, LinkedListNode<OrchestrationExecutor>> entries = new(StringComparer.Ordinal);
    private readonly LinkedList<OrchestrationExecutor> order = new();

    public ReplayCache(int capacity) => this.capacity = capacity;

    public int Count
    {
        get
        {
            lock (this.gate)
            {
                return this.entries.Count;
            }
        }
    }

    /// <summary>Removes and returns the executor if it is still current.</summary>
    public OrchestrationExecutor? TryTake(string instanceId, string executionId, int historyCount)
    {
        lock (this.gate)
        {
            if (!this.entries.Remove(instanceId, out var node))
            {
                return null;
            }

            this.order.Remove(node);
            OrchestrationExecutor e = node.Value;
            return string.Equals(e.ExecutionId, executionId, StringComparison.Ordinal) && e.HistoryCount == historyCount ? e : null;
        }
    }

    public void Put(OrchestrationExecutor executor)
    {
        if (this.capacity == 0)
        {
            return;
        }

        lock (this.gate)
        {
            if (this.entries.Remove(executor.InstanceId, out var old))
            {
                this.order.Remove(old);
            }

            this.entries[executor.InstanceId] = this.order.AddFirst(executor);
            while (this.entries.Count > this.capacity)
            {
                var last = this.order.Last!;
                this.order.RemoveLast();
                this.entries.Remove(last.Value.InstanceId);
            }
        }
    }

    public void Remove(string instanceId)
    {
        lock (this.gate)
        {
            if (this.entries.Remove(instanceId, out var node))
            {
                this.order.Remove(node);
            }
        }
    }
}
