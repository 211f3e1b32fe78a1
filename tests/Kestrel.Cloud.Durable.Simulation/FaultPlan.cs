namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>The faults the simulation injects.</summary>
public enum FaultKind
{
    /// <summary>The process dies at a step or activity commit, before committing: the work item stays locked until its lock expires.</summary>
    CrashBeforeCommit,

    /// <summary>The process dies right after a commit, before it could do anything else.</summary>
    CrashAfterCommit,

    /// <summary>A commit fails with a store error before committing; the process lives and the worker abandons the item.</summary>
    TransientErrorBeforeCommit,

    /// <summary>A commit succeeds but reports an error (a timeout after the write); the process lives.</summary>
    AmbiguousCommit,

    /// <summary>An activity that already completed is delivered again; its second result reaches the inbox.</summary>
    DuplicateActivity,

    /// <summary>A message (result, timer, event, start) is put into the recipient's inbox twice.</summary>
    DuplicateMessage,

    /// <summary>Several work items are locked, one chosen at random, the others released (not oldest-first).</summary>
    ReorderedDelivery,

    /// <summary>A work item is released with a random delay instead of being run.</summary>
    DelayedDelivery,

    /// <summary>The clock jumps past lock durations while work is in flight, so two workers race for it.</summary>
    ClockJump,

    /// <summary>A process dies between steps, losing its in-memory state (replay cache, locked work items).</summary>
    ProcessCrash,

    /// <summary>A locked work item is held in flight instead of run at once (so clock jumps and crashes hit it).</summary>
    HeldInFlight,
}

/// <summary>
/// The probability of each fault, chosen per seed (swarm testing: each seed enables a random subset of kinds
/// at random rates, so rare combinations get dense coverage somewhere). Store-call faults are rolled per call
/// by <see cref="FaultInjectingStore"/>; <see cref="FaultKind.ClockJump"/>, <see cref="FaultKind.ProcessCrash"/>
/// and <see cref="FaultKind.HeldInFlight"/> per simulator action.
/// </summary>
public sealed class FaultPlan
{
    private readonly Dictionary<FaultKind, double> probabilities;

    /// <summary>Creates a plan from explicit probabilities (0 to 1); kinds not given are off.</summary>
    public FaultPlan(IReadOnlyDictionary<FaultKind, double> probabilities)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        this.probabilities = new Dictionary<FaultKind, double>(probabilities);
    }

    /// <summary>No faults (the liveness phase).</summary>
    public static FaultPlan None { get; } = new(new Dictionary<FaultKind, double>());

    /// <summary>The highest probability <see cref="FromSeed"/> gives each kind.</summary>
    public static IReadOnlyDictionary<FaultKind, double> MaxProbabilities { get; } = new Dictionary<FaultKind, double>
    {
        [FaultKind.CrashBeforeCommit] = 0.08,
        [FaultKind.CrashAfterCommit] = 0.08,
        [FaultKind.TransientErrorBeforeCommit] = 0.08,
        [FaultKind.AmbiguousCommit] = 0.08,
        [FaultKind.DuplicateActivity] = 0.15,
        [FaultKind.DuplicateMessage] = 0.25,
        [FaultKind.ReorderedDelivery] = 0.30,
        [FaultKind.DelayedDelivery] = 0.10,
        [FaultKind.ClockJump] = 0.05,
        [FaultKind.ProcessCrash] = 0.03,
        [FaultKind.HeldInFlight] = 0.25,
    };

    /// <summary>True when no fault can happen.</summary>
    public bool IsNone => this.probabilities.Values.All(p => p <= 0);

    /// <summary>
    /// A plan for one seed: each kind is on with probability 0.7, at a rate up to its maximum. Kinds outside
    /// <paramref name="enabled"/> (when given) are off; the same random numbers are drawn either way.
    /// </summary>
    public static FaultPlan FromSeed(Random random, IReadOnlySet<FaultKind>? enabled = null)
    {
        ArgumentNullException.ThrowIfNull(random);
        var chosen = new Dictionary<FaultKind, double>();
        foreach (FaultKind kind in Enum.GetValues<FaultKind>())
        {
            bool on = random.Next(100) < 70;
            double rate = random.NextDouble() * MaxProbabilities[kind];
            chosen[kind] = on && (enabled?.Contains(kind) ?? true) ? rate : 0;
        }

        return new FaultPlan(chosen);
    }

    /// <summary>The probability of <paramref name="kind"/>.</summary>
    public double ProbabilityOf(FaultKind kind) => this.probabilities.GetValueOrDefault(kind);

    /// <summary>Rolls for <paramref name="kind"/>. Consumes one random number only when the kind is on, so turning a kind off does not shift the others' rolls more than necessary.</summary>
    public bool Roll(Random random, FaultKind kind)
    {
        ArgumentNullException.ThrowIfNull(random);
        double p = this.ProbabilityOf(kind);
        return p > 0 && random.NextDouble() < p;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        string.Join(", ", this.probabilities.Where(p => p.Value > 0).Select(p => $"{p.Key}={p.Value:0.###}"));
}

/// <summary>Counts of what happened during a run.</summary>
public sealed class FaultCounters
{
    private readonly Dictionary<FaultKind, int> counts = Enum.GetValues<FaultKind>().ToDictionary(k => k, _ => 0);

    /// <summary>Faults injected, by kind.</summary>
    public IReadOnlyDictionary<FaultKind, int> Counts => this.counts;

    /// <summary>Step commits the store refused because the lock was lost (the loser of a race).</summary>
    public int LockLostCommits { get; set; }

    /// <summary>Activity completions the store refused because the lock was lost.</summary>
    public int LockLostActivityCompletions { get; set; }

    /// <summary>Counts one injected fault.</summary>
    public void Add(FaultKind kind) => this.counts[kind]++;

    /// <summary>Adds another run's counts.</summary>
    public void Add(FaultCounters other)
    {
        ArgumentNullException.ThrowIfNull(other);
        foreach (var (kind, n) in other.counts)
        {
            this.counts[kind] += n;
        }

        this.LockLostCommits += other.LockLostCommits;
        this.LockLostActivityCompletions += other.LockLostActivityCompletions;
    }
}
