using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>Thrown by a <see cref="FaultInjectingStore"/> whose simulated process died; the simulator replaces the process.</summary>
public sealed class SimulatedCrashException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SimulatedCrashException(string message)
        : base(message)
    {
    }
}

/// <summary>Thrown by a <see cref="FaultInjectingStore"/> to simulate a store error the process survives.</summary>
public sealed class SimulatedStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SimulatedStoreException(string message)
        : base(message)
    {
    }
}

/// <summary>What every <see cref="FaultInjectingStore"/> of one simulation shares: the seeded random source, the plan, the counters and the ledger.</summary>
public sealed class FaultContext
{
    private readonly List<ActivityWorkItem> recentlyCompleted = new();

    /// <summary>Creates the shared state.</summary>
    public FaultContext(Random random, FaultPlan plan, CommitLedger ledger)
    {
        this.Random = random;
        this.Plan = plan;
        this.Ledger = ledger;
    }

    /// <summary>Most completed activities remembered for duplicate delivery.</summary>
    public const int MaxRememberedCompletions = 32;

    /// <summary>The simulation's one random source.</summary>
    public Random Random { get; }

    /// <summary>The faults in force (set to <see cref="FaultPlan.None"/> for the liveness phase).</summary>
    public FaultPlan Plan { get; set; }

    /// <summary>Where successful commits are recorded.</summary>
    public CommitLedger Ledger { get; }

    /// <summary>What was injected.</summary>
    public FaultCounters Counters { get; } = new();

    /// <summary>Activities whose completion the store accepted, most recent last (bounded).</summary>
    public IReadOnlyList<ActivityWorkItem> RecentlyCompleted => this.recentlyCompleted;

    /// <summary>Remembers a completed activity for a later duplicate delivery.</summary>
    public void RememberCompleted(ActivityWorkItem item)
    {
        this.recentlyCompleted.Add(item);
        if (this.recentlyCompleted.Count > MaxRememberedCompletions)
        {
            this.recentlyCompleted.RemoveAt(0);
        }
    }
}

/// <summary>
/// A store decorator for one simulated process that injects faults using only the inner store's public API:
/// crashes before and after commits, store errors, duplicate activity deliveries and duplicate messages,
/// reordered and delayed deliveries. It records every commit the inner store accepts in the
/// <see cref="CommitLedger"/> and checks that a commit refused for a lost lock changed nothing. After a crash
/// every call throws <see cref="SimulatedCrashException"/>: the process is dead and the simulator builds a new
/// one (new store wrapper, new worker, empty replay cache).
/// </summary>
public sealed class FaultInjectingStore : IOrchestrationStore
{
    private const int MaxReorderWindow = 4;
    private readonly IOrchestrationStore inner;
    private readonly FaultContext context;
    private readonly HashSet<ActivityWorkItem> duplicates = new(ReferenceEqualityComparer.Instance);

    /// <summary>Wraps <paramref name="inner"/> for one process.</summary>
    public FaultInjectingStore(IOrchestrationStore inner, FaultContext context)
    {
        this.inner = inner;
        this.context = context;
    }

    /// <summary>True once this process has crashed.</summary>
    public bool Crashed { get; private set; }

    /// <inheritdoc/>
    public string Name => this.inner.Name;

    /// <inheritdoc/>
    public StoreSignals Signals => this.inner.Signals;

    private Random Random => this.context.Random;

    private FaultPlan Plan => this.context.Plan;

    /// <inheritdoc/>
    public Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.InitializeAsync(cancellationToken);
    }

    /// <inheritdoc/>
    public Task CreateInstanceAsync(OrchestrationMessage startMessage, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.CreateInstanceAsync(startMessage, cancellationToken);
    }

    /// <inheritdoc/>
    public Task SendMessageAsync(OrchestrationMessage message, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.SendMessageAsync(message, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.GetInstanceAsync(instanceId, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.GetHistoryAsync(instanceId, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<InstanceQueryResult> QueryInstancesAsync(InstanceQuery query, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.QueryInstancesAsync(query, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<bool> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.PurgeInstanceAsync(instanceId, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<int> PurgeInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.PurgeInstancesAsync(filter, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<OrchestrationWorkItem?> TryLockNextOrchestrationAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        if (this.Plan.Roll(this.Random, FaultKind.ReorderedDelivery))
        {
            var window = new List<OrchestrationWorkItem>();
            int size = this.Random.Next(2, MaxReorderWindow + 1);
            while (window.Count < size && await this.inner.TryLockNextOrchestrationAsync(lockDuration, cancellationToken) is { } locked)
            {
                window.Add(locked);
            }

            if (window.Count == 0)
            {
                return null;
            }

            OrchestrationWorkItem chosen = window[this.Random.Next(window.Count)];
            foreach (OrchestrationWorkItem other in window.Where(w => !ReferenceEquals(w, chosen)))
            {
                await this.inner.AbandonOrchestrationAsync(other, TimeSpan.Zero, cancellationToken);
            }

            if (window.Count > 1)
            {
                this.context.Counters.Add(FaultKind.ReorderedDelivery);
            }

            return chosen;
        }

        OrchestrationWorkItem? item = await this.inner.TryLockNextOrchestrationAsync(lockDuration, cancellationToken);
        if (item is not null && this.Plan.Roll(this.Random, FaultKind.DelayedDelivery))
        {
            await this.inner.AbandonOrchestrationAsync(item, this.RandomDelay(), cancellationToken);
            this.context.Counters.Add(FaultKind.DelayedDelivery);
            return null;
        }

        return item;
    }

    /// <inheritdoc/>
    public async Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(commit);
        this.ThrowIfCrashed();
        this.InjectBeforeCommit($"step of '{workItem.InstanceId}'");

        InstanceRecord? before = await this.inner.GetInstanceAsync(workItem.InstanceId, cancellationToken);
        try
        {
            await this.inner.CompleteOrchestrationAsync(workItem, commit, cancellationToken);
        }
        catch (StoreConcurrencyException)
        {
            this.context.Counters.LockLostCommits++;
            InstanceRecord? after = await this.inner.GetInstanceAsync(workItem.InstanceId, cancellationToken);
            if (before != after)
            {
                this.context.Ledger.RecordViolation(
                    $"A step commit of '{workItem.InstanceId}' refused with StoreConcurrencyException changed the instance: before {before}, after {after}.");
            }

            throw;
        }

        this.context.Ledger.RecordCommit(workItem, commit);
        if (this.Plan.Roll(this.Random, FaultKind.DuplicateMessage))
        {
            foreach (OrchestrationMessage message in commit.Messages)
            {
                await this.DuplicateAsync(message, cancellationToken);
            }
        }

        this.InjectAfterCommit($"step of '{workItem.InstanceId}'");
    }

    /// <inheritdoc/>
    public Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.AbandonOrchestrationAsync(workItem, delay, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<ActivityWorkItem?> TryLockNextActivityAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        if (this.context.RecentlyCompleted.Count > 0 && this.Plan.Roll(this.Random, FaultKind.DuplicateActivity))
        {
            ActivityWorkItem done = this.context.RecentlyCompleted[this.Random.Next(this.context.RecentlyCompleted.Count)];
            var duplicate = new ActivityWorkItem(done.Request, "duplicate-" + done.LockToken, done.DeliveryCount + 1, done.StoreState);
            this.duplicates.Add(duplicate);
            this.context.Counters.Add(FaultKind.DuplicateActivity);
            return duplicate;
        }

        if (this.Plan.Roll(this.Random, FaultKind.ReorderedDelivery))
        {
            var window = new List<ActivityWorkItem>();
            int size = this.Random.Next(2, MaxReorderWindow + 1);
            while (window.Count < size && await this.inner.TryLockNextActivityAsync(lockDuration, cancellationToken) is { } locked)
            {
                window.Add(locked);
            }

            if (window.Count == 0)
            {
                return null;
            }

            ActivityWorkItem chosen = window[this.Random.Next(window.Count)];
            foreach (ActivityWorkItem other in window.Where(w => !ReferenceEquals(w, chosen)))
            {
                await this.inner.AbandonActivityAsync(other, TimeSpan.Zero, cancellationToken);
            }

            if (window.Count > 1)
            {
                this.context.Counters.Add(FaultKind.ReorderedDelivery);
            }

            return chosen;
        }

        ActivityWorkItem? item = await this.inner.TryLockNextActivityAsync(lockDuration, cancellationToken);
        if (item is not null && this.Plan.Roll(this.Random, FaultKind.DelayedDelivery))
        {
            await this.inner.AbandonActivityAsync(item, this.RandomDelay(), cancellationToken);
            this.context.Counters.Add(FaultKind.DelayedDelivery);
            return null;
        }

        return item;
    }

    /// <inheritdoc/>
    public Task<bool> RenewActivityLockAsync(ActivityWorkItem workItem, TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.duplicates.Contains(workItem) ? Task.FromResult(true) : this.inner.RenewActivityLockAsync(workItem, lockDuration, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(result);
        this.ThrowIfCrashed();
        if (this.duplicates.Remove(workItem))
        {
            // The second completion of an activity that already completed: its result reaches the inbox again.
            await this.DuplicateAsync(result, cancellationToken);
            return true;
        }

        string what = $"activity #{workItem.Request.TaskId} of '{workItem.Request.InstanceId}'";
        this.InjectBeforeCommit(what);
        bool completed = await this.inner.CompleteActivityAsync(workItem, result, cancellationToken);
        if (!completed)
        {
            this.context.Counters.LockLostActivityCompletions++;
            return false;
        }

        this.context.RememberCompleted(workItem);
        if (this.Plan.Roll(this.Random, FaultKind.DuplicateMessage))
        {
            await this.DuplicateAsync(result, cancellationToken);
        }

        this.InjectAfterCommit(what);
        return true;
    }

    /// <inheritdoc/>
    public Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.duplicates.Remove(workItem) ? Task.CompletedTask : this.inner.AbandonActivityAsync(workItem, delay, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default)
    {
        this.ThrowIfCrashed();
        return this.inner.GetNextWakeUpTimeAsync(kind, cancellationToken);
    }

    /// <summary>Kills this process: every later call throws <see cref="SimulatedCrashException"/>.</summary>
    public void Crash() => this.Crashed = true;

    private void InjectBeforeCommit(string what)
    {
        if (this.Plan.Roll(this.Random, FaultKind.CrashBeforeCommit))
        {
            this.context.Counters.Add(FaultKind.CrashBeforeCommit);
            this.Crashed = true;
            throw new SimulatedCrashException($"Simulated crash before committing the {what}.");
        }

        if (this.Plan.Roll(this.Random, FaultKind.TransientErrorBeforeCommit))
        {
            this.context.Counters.Add(FaultKind.TransientErrorBeforeCommit);
            throw new SimulatedStoreException($"Simulated store error before committing the {what}.");
        }
    }

    private void InjectAfterCommit(string what)
    {
        if (this.Plan.Roll(this.Random, FaultKind.CrashAfterCommit))
        {
            this.context.Counters.Add(FaultKind.CrashAfterCommit);
            this.Crashed = true;
            throw new SimulatedCrashException($"Simulated crash after committing the {what}.");
        }

        if (this.Plan.Roll(this.Random, FaultKind.AmbiguousCommit))
        {
            this.context.Counters.Add(FaultKind.AmbiguousCommit);
            throw new SimulatedStoreException($"Simulated store error reported after committing the {what}.");
        }
    }

    private async Task DuplicateAsync(OrchestrationMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await this.inner.SendMessageAsync(message, cancellationToken);
            this.context.Counters.Add(FaultKind.DuplicateMessage);
        }
        catch (OrchestrationNotFoundException)
        {
            // A message for an instance that does not exist (yet) is dropped, like the store drops it.
        }
    }

    private TimeSpan RandomDelay() => TimeSpan.FromMilliseconds(this.Random.Next(1_000, 5 * 60_000));

    private void ThrowIfCrashed()
    {
        if (this.Crashed)
        {
            throw new SimulatedCrashException("This simulated process has crashed; the simulator replaces it.");
        }
    }
}
