using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.Storage;

/// <summary>
/// A store that keeps everything in process memory behind one lock: for tests, benchmarks and
/// throwaway runs. It has the same semantics as the durable stores, but nothing survives the process.
/// </summary>
public sealed class InMemoryOrchestrationStore : IOrchestrationStore
{
    private readonly object gate = new();
    private readonly TimeProvider timeProvider;
    private readonly Dictionary<string, Instance> instances = new(StringComparer.Ordinal);
    private readonly HashSet<string> withMessages = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, Activity> activities = new();
    private long nextSeq;

    /// <summary>Creates a store on the given clock (the system clock by default).</summary>
    public InMemoryOrchestrationStore(TimeProvider? timeProvider = null)
    {
        this.timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    public string Name => "in-memory";

    /// <inheritdoc/>
    public StoreSignals Signals { get; } = new();

    private DateTime Now => this.timeProvider.GetUtcNow().UtcDateTime;

    /// <inheritdoc/>
    public Task InitializeAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task CreateInstanceAsync(OrchestrationMessage startMessage, CancellationToken cancellationToken = default)
    {
        var es = startMessage.Event as ExecutionStartedEvent
            ?? throw new ArgumentException("The start message must carry an ExecutionStartedEvent.", nameof(startMessage));
        lock (this.gate)
        {
            if (this.instances.TryGetValue(startMessage.InstanceId, out Instance? existing) && !existing.Record.Status.IsTerminal())
            {
                throw new OrchestrationAlreadyExistsException(startMessage.InstanceId, existing.Record.Status);
            }

            this.CreateOrReplace(startMessage, es);
        }

        this.Signals.NotifyOrchestrationWork();
        this.Signals.NotifyInstanceChanged(startMessage.InstanceId);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task SendMessageAsync(OrchestrationMessage message, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            if (!this.instances.TryGetValue(message.InstanceId, out Instance? instance))
            {
                throw new OrchestrationNotFoundException(message.InstanceId);
            }

            this.Enqueue(instance, message);
        }

        this.Signals.NotifyOrchestrationWork();
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            return Task.FromResult(this.instances.TryGetValue(instanceId, out Instance? i) ? i.Record : null);
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            IReadOnlyList<HistoryEvent> history = this.instances.TryGetValue(instanceId, out Instance? i) ? i.History.ToArray() : Array.Empty<HistoryEvent>();
            return Task.FromResult(history);
        }
    }

    /// <inheritdoc/>
    public Task<InstanceQueryResult> QueryInstancesAsync(InstanceQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (afterCreated, afterId) = QueryPaging.Decode(query.ContinuationToken);
        int pageSize = QueryPaging.ValidatePageSize(query.PageSize);
        List<InstanceRecord> page;
        lock (this.gate)
        {
            page = this.instances.Values
                .Select(i => i.Record)
                .Where(query.Matches)
                .Where(r => QueryPaging.IsAfter(r, afterCreated, afterId))
                .OrderBy(r => r.CreatedAt).ThenBy(r => r.InstanceId, StringComparer.Ordinal)
                .Take(pageSize + 1)
                .ToList();
        }

        return Task.FromResult(QueryPaging.ToResult(page, pageSize));
    }

    /// <inheritdoc/>
    public Task<bool> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            if (!this.instances.TryGetValue(instanceId, out Instance? instance))
            {
                return Task.FromResult(false);
            }

            if (!instance.Record.Status.IsTerminal())
            {
                throw new InvalidOperationException(
                    $"Instance '{instanceId}' is {instance.Record.Status}; only finished instances can be purged. Terminate it first.");
            }

            this.Remove(instanceId);
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public Task<int> PurgeInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (this.gate)
        {
            var doomed = this.instances.Values.Select(i => i.Record).Where(r => QueryPaging.MatchesPurge(filter, r)).Select(r => r.InstanceId).ToList();
            foreach (string id in doomed)
            {
                this.Remove(id);
            }

            return Task.FromResult(doomed.Count);
        }
    }

    /// <inheritdoc/>
    public Task<OrchestrationWorkItem?> TryLockNextOrchestrationAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            DateTime now = this.Now;
            Instance? best = null;
            long bestSeq = long.MaxValue;
            foreach (string id in this.withMessages)
            {
                Instance candidate = this.instances[id];
                if ((candidate.LockToken is not null && candidate.LockExpires > now) || candidate.NotBefore > now)
                {
                    continue;
                }

                foreach (Message m in candidate.Inbox)
                {
                    if (m.VisibleAt <= now && m.Seq < bestSeq)
                    {
                        best = candidate;
                        bestSeq = m.Seq;
                        break;
                    }
                }
            }

            if (best is null)
            {
                return Task.FromResult<OrchestrationWorkItem?>(null);
            }

            var visible = best.Inbox.Where(m => m.VisibleAt <= now).ToList();
            foreach (Message m in visible)
            {
                m.DeliveryCount++;
            }

            best.LockToken = Guid.NewGuid().ToString("N");
            best.LockExpires = now + lockDuration;
            var item = new OrchestrationWorkItem(
                best.Record,
                visible.Select(m => m.Value).ToList(),
                best.LockToken,
                visible.Max(m => m.DeliveryCount),
                visible.Select(m => m.Seq).ToHashSet());
            return Task.FromResult<OrchestrationWorkItem?>(item);
        }
    }

    /// <inheritdoc/>
    public Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default)
    {
        var changed = new List<string>();
        lock (this.gate)
        {
            if (!this.instances.TryGetValue(workItem.InstanceId, out Instance? instance) || instance.LockToken != workItem.LockToken)
            {
                throw new StoreConcurrencyException(
                    $"The lock on instance '{workItem.InstanceId}' was lost (it expired and another worker took it, or the instance was purged); the step was not committed.");
            }

            var consumed = (HashSet<long>)workItem.StoreState!;
            instance.Inbox.RemoveAll(m => consumed.Contains(m.Seq));
            if (commit.ReplaceHistory)
            {
                instance.History.Clear();
            }

            instance.History.AddRange(commit.NewEvents);
            instance.Record = commit.Instance with { HistoryCount = instance.History.Count, LastUpdatedAt = this.Now };
            instance.LockToken = null;
            changed.Add(instance.Record.InstanceId);

            foreach (ActivityRequest request in commit.Activities)
            {
                long seq = this.nextSeq++;
                this.activities.Add(seq, new Activity(seq, request) { VisibleAt = DateTime.MinValue });
            }

            foreach (OrchestrationMessage message in commit.Messages)
            {
                this.Route(message, changed);
            }

            this.UpdateIndex(instance);
        }

        if (commit.Activities.Count > 0)
        {
            this.Signals.NotifyActivityWork();
        }

        // Leftover messages (arrived during the step) or new ones need a step.
        this.Signals.NotifyOrchestrationWork();
        foreach (string id in changed)
        {
            this.Signals.NotifyInstanceChanged(id);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            if (this.instances.TryGetValue(workItem.InstanceId, out Instance? instance) && instance.LockToken == workItem.LockToken)
            {
                // The instance waits as a whole, so a message that arrives meanwhile cannot overtake the released ones.
                instance.NotBefore = this.Now + delay;
                instance.LockToken = null;
            }
        }

        this.Signals.NotifyOrchestrationWork();
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<ActivityWorkItem?> TryLockNextActivityAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            DateTime now = this.Now;
            foreach (Activity a in this.activities.Values)
            {
                if (a.VisibleAt > now || (a.LockToken is not null && a.LockExpires > now))
                {
                    continue;
                }

                a.LockToken = Guid.NewGuid().ToString("N");
                a.LockExpires = now + lockDuration;
                a.DeliveryCount++;
                return Task.FromResult<ActivityWorkItem?>(new ActivityWorkItem(a.Request, a.LockToken, a.DeliveryCount, a.Seq));
            }

            return Task.FromResult<ActivityWorkItem?>(null);
        }
    }

    /// <inheritdoc/>
    public Task<bool> RenewActivityLockAsync(ActivityWorkItem workItem, TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            if (this.activities.TryGetValue((long)workItem.StoreState!, out Activity? a) && a.LockToken == workItem.LockToken)
            {
                a.LockExpires = this.Now + lockDuration;
                return Task.FromResult(true);
            }

            return Task.FromResult(false);
        }
    }

    /// <inheritdoc/>
    public Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            long seq = (long)workItem.StoreState!;
            if (!this.activities.TryGetValue(seq, out Activity? a) || a.LockToken != workItem.LockToken)
            {
                return Task.FromResult(false);
            }

            this.activities.Remove(seq);
            if (this.instances.TryGetValue(result.InstanceId, out Instance? instance))
            {
                this.Enqueue(instance, result);
            }
        }

        this.Signals.NotifyOrchestrationWork();
        return Task.FromResult(true);
    }

    /// <inheritdoc/>
    public Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            if (this.activities.TryGetValue((long)workItem.StoreState!, out Activity? a) && a.LockToken == workItem.LockToken)
            {
                a.LockToken = null;
                a.VisibleAt = this.Now + delay;
            }
        }

        this.Signals.NotifyActivityWork();
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default)
    {
        lock (this.gate)
        {
            DateTime now = this.Now;
            DateTime? next = null;
            void Consider(DateTime t)
            {
                if (next is null || t < next)
                {
                    next = t;
                }
            }

            if (kind == WorkItemKind.Orchestration)
            {
                foreach (string id in this.withMessages)
                {
                    Instance i = this.instances[id];
                    if (i.LockToken is not null && i.LockExpires > now)
                    {
                        Consider(i.LockExpires);
                        continue;
                    }

                    foreach (Message m in i.Inbox)
                    {
                        Consider(m.VisibleAt > i.NotBefore ? m.VisibleAt : i.NotBefore);
                    }
                }
            }
            else
            {
                foreach (Activity a in this.activities.Values)
                {
                    Consider(a.LockToken is not null && a.LockExpires > now ? a.LockExpires : a.VisibleAt);
                }
            }

            return Task.FromResult(next);
        }
    }

    private void Route(OrchestrationMessage message, List<string> changed)
    {
        this.instances.TryGetValue(message.InstanceId, out Instance? target);
        if (message.Event is ExecutionStartedEvent es && (target is null || !string.Equals(target.Record.ExecutionId, es.ExecutionId, StringComparison.Ordinal)))
        {
            if (InstanceCreation.RejectionFor(message, target?.Record.Status) is { } rejection)
            {
                this.Route(rejection, changed);
                return;
            }

            if (target is null || target.Record.Status.IsTerminal())
            {
                this.CreateOrReplace(message, es);
                changed.Add(message.InstanceId);
                return;
            }
        }

        if (target is not null)
        {
            this.Enqueue(target, message); // messages for instances that do not exist are dropped
        }
    }

    private void CreateOrReplace(OrchestrationMessage startMessage, ExecutionStartedEvent es)
    {
        this.Remove(startMessage.InstanceId);
        var instance = new Instance(InstanceCreation.NewRecord(startMessage.InstanceId, es, this.Now));
        this.instances.Add(startMessage.InstanceId, instance);
        this.Enqueue(instance, startMessage);
    }

    private void Enqueue(Instance instance, OrchestrationMessage message)
    {
        instance.Inbox.Add(new Message(this.nextSeq++, message) { VisibleAt = message.VisibleAt ?? DateTime.MinValue });
        this.withMessages.Add(instance.Record.InstanceId);
    }

    private void UpdateIndex(Instance instance)
    {
        if (instance.Inbox.Count == 0)
        {
            this.withMessages.Remove(instance.Record.InstanceId);
        }
    }

    private void Remove(string instanceId)
    {
        this.instances.Remove(instanceId);
        this.withMessages.Remove(instanceId);
        foreach (long seq in this.activities.Where(a => a.Value.Request.InstanceId == instanceId).Select(a => a.Key).ToList())
        {
            this.activities.Remove(seq);
        }
    }

    private sealed class Instance
    {
        public Instance(InstanceRecord record) => this.Record = record;

        public InstanceRecord Record { get; set; }

        public List<HistoryEvent> History { get; } = new();

        public List<Message> Inbox { get; } = new();

        public string? LockToken { get; set; }

        public DateTime LockExpires { get; set; }

        /// <summary>Not delivered before this time (set when a step is abandoned with a delay).</summary>
        public DateTime NotBefore { get; set; }
    }

    private sealed class Message
    {
        public Message(long seq, OrchestrationMessage value)
        {
            this.Seq = seq;
            this.Value = value;
        }

        public long Seq { get; }

        public OrchestrationMessage Value { get; }

        public DateTime VisibleAt { get; set; }

        public int DeliveryCount { get; set; }
    }

    private sealed class Activity
    {
        public Activity(long seq, ActivityRequest request)
        {
            this.Seq = seq;
            this.Request = request;
        }

        public long Seq { get; }

        public ActivityRequest Request { get; }

        public DateTime VisibleAt { get; set; }

        public string? LockToken { get; set; }

        public DateTime LockExpires { get; set; }

        public int DeliveryCount { get; set; }
    }
}
