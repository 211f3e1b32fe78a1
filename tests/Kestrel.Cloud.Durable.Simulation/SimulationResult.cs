using System.Globalization;
using System.Text;

namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>What one seed's run did and which invariants it violated.</summary>
public sealed class SimulationResult
{
    /// <summary>The seed.</summary>
    public required int Seed { get; init; }

    /// <summary>Invariant violations; empty when the run passed.</summary>
    public required IReadOnlyList<string> Violations { get; init; }

    /// <summary>The command that replays exactly this seed.</summary>
    public required string ReproCommand { get; init; }

    /// <summary>The faults enabled for this seed.</summary>
    public required string FaultPlan { get; init; }

    /// <summary>A hash of every scheduling decision: equal for two runs of the same seed.</summary>
    public required string Fingerprint { get; init; }

    /// <summary>The last actions before the end of the run, for diagnosis.</summary>
    public required IReadOnlyList<string> LastActions { get; init; }

    /// <summary>Instances the programs created (top-level and sub-orchestrations).</summary>
    public required int Instances { get; init; }

    /// <summary>Simulator actions in the safety phase.</summary>
    public required int SafetyActions { get; init; }

    /// <summary>Simulator actions the liveness phase needed.</summary>
    public required int LivenessActions { get; init; }

    /// <summary>Successful orchestration step commits.</summary>
    public required int StepCommits { get; init; }

    /// <summary>Activity executions (re-runs included).</summary>
    public required int ActivityExecutions { get; init; }

    /// <summary>Distinct activity calls executed.</summary>
    public required int DistinctActivityCalls { get; init; }

    /// <summary>Processes restarted after a crash.</summary>
    public required int ProcessRestarts { get; init; }

    /// <summary>Instances the simulator terminated (before they finished).</summary>
    public required int TerminatedInstances { get; init; }

    /// <summary>Instances the engine failed as poison (see <see cref="SimulationOptions.MaxOrchestrationDeliveryAttempts"/>).</summary>
    public required int PoisonedInstances { get; init; }

    /// <summary>Simulated time the run covered.</summary>
    public required TimeSpan SimulatedTime { get; init; }

    /// <summary>Faults injected and lost races.</summary>
    public required FaultCounters Faults { get; init; }

    /// <summary>True when no invariant was violated.</summary>
    public bool Passed => this.Violations.Count == 0;

    /// <summary>A report naming the seed, the violations, the faults and the command that replays it.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Seed {this.Seed}: ");
        sb.AppendLine(this.Passed ? "passed." : $"{this.Violations.Count} invariant violation(s).");
        foreach (string v in this.Violations.Take(20))
        {
            sb.Append("  - ").AppendLine(v);
        }

        if (this.Violations.Count > 20)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  ... and {this.Violations.Count - 20} more.");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"  faults enabled: {(this.FaultPlan.Length == 0 ? "none" : this.FaultPlan)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  last actions: {string.Join(" | ", this.LastActions.TakeLast(15))}");
        sb.Append("  replay: ").AppendLine(this.ReproCommand);
        return sb.ToString();
    }
}

/// <summary>Totals over many seeds, for the test output.</summary>
public sealed class SimulationSummary
{
    /// <summary>Seeds run.</summary>
    public int Seeds { get; private set; }

    /// <summary>Seeds that violated an invariant.</summary>
    public int FailedSeeds { get; private set; }

    /// <summary>Instances created.</summary>
    public long Instances { get; private set; }

    /// <summary>Simulator actions (both phases).</summary>
    public long Actions { get; private set; }

    /// <summary>Successful step commits.</summary>
    public long StepCommits { get; private set; }

    /// <summary>Activity executions, re-runs included.</summary>
    public long ActivityExecutions { get; private set; }

    /// <summary>Activity executions beyond the first of each call (at-least-once re-runs).</summary>
    public long ActivityReruns { get; private set; }

    /// <summary>Process restarts.</summary>
    public long ProcessRestarts { get; private set; }

    /// <summary>Instances terminated by the simulator.</summary>
    public long TerminatedInstances { get; private set; }

    /// <summary>Instances failed as poison.</summary>
    public long PoisonedInstances { get; private set; }

    /// <summary>Faults by kind.</summary>
    public FaultCounters Faults { get; } = new();

    /// <summary>Adds one run.</summary>
    public void Add(SimulationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        this.Seeds++;
        this.FailedSeeds += result.Passed ? 0 : 1;
        this.Instances += result.Instances;
        this.Actions += result.SafetyActions + result.LivenessActions;
        this.StepCommits += result.StepCommits;
        this.ActivityExecutions += result.ActivityExecutions;
        this.ActivityReruns += result.ActivityExecutions - result.DistinctActivityCalls;
        this.ProcessRestarts += result.ProcessRestarts;
        this.TerminatedInstances += result.TerminatedInstances;
        this.PoisonedInstances += result.PoisonedInstances;
        this.Faults.Add(result.Faults);
    }

    /// <summary>A multi-line summary; <paramref name="elapsed"/> (measured by the caller) is reported, never asserted.</summary>
    public string Format(TimeSpan? elapsed = null)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Simulation: {this.Seeds} seeds, {this.FailedSeeds} failed");
        if (elapsed is { } e && e > TimeSpan.Zero)
        {
            sb.Append(CultureInfo.InvariantCulture, $", {e.TotalSeconds:0.0} s ({this.Seeds / e.TotalSeconds:0.0} seeds/s)");
        }

        sb.AppendLine(".");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  instances {this.Instances} ({this.TerminatedInstances} terminated, {this.PoisonedInstances} poisoned), actions {this.Actions}, step commits {this.StepCommits}, activity executions {this.ActivityExecutions} ({this.ActivityReruns} re-runs), process restarts {this.ProcessRestarts}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  lost races: {this.Faults.LockLostCommits} step commits, {this.Faults.LockLostActivityCompletions} activity completions refused");
        sb.Append("  faults injected: ");
        sb.AppendLine(string.Join(", ", this.Faults.Counts.Select(kv => $"{kv.Key} {kv.Value}")));
        return sb.ToString();
    }
}

/// <summary>Which seeds to run, from the environment, and the command that replays one.</summary>
public static class SimulationSeeds
{
    /// <summary>Runs exactly this seed.</summary>
    public const string SeedVariable = "KESTREL_SIM_SEED";

    /// <summary>Runs this many seeds.</summary>
    public const string SeedCountVariable = "KESTREL_SIM_SEEDS";

    /// <summary>The first seed of a multi-seed run (default 1), to explore new seeds.</summary>
    public const string FirstSeedVariable = "KESTREL_SIM_FIRST_SEED";

    /// <summary>
    /// The seeds to run: <c>KESTREL_SIM_SEED=S</c> gives exactly S; otherwise <c>KESTREL_SIM_SEEDS</c> seeds
    /// (default <paramref name="defaultCount"/>) starting at <c>KESTREL_SIM_FIRST_SEED</c> (default 1).
    /// </summary>
    public static IReadOnlyList<int> FromEnvironment(int defaultCount) =>
        Parse(
            Environment.GetEnvironmentVariable(SeedVariable),
            Environment.GetEnvironmentVariable(SeedCountVariable),
            Environment.GetEnvironmentVariable(FirstSeedVariable),
            defaultCount);

    /// <summary>The seeds for the given variable values (null when unset); throws naming the variable when one is not a number.</summary>
    public static IReadOnlyList<int> Parse(string? seed, string? count, string? firstSeed, int defaultCount)
    {
        if (!string.IsNullOrWhiteSpace(seed))
        {
            return [ParseInt(seed, SeedVariable)];
        }

        int n = string.IsNullOrWhiteSpace(count) ? defaultCount : ParseInt(count, SeedCountVariable);
        int first = string.IsNullOrWhiteSpace(firstSeed) ? 1 : ParseInt(firstSeed, FirstSeedVariable);
        if (n < 1)
        {
            throw new ArgumentException($"The value of {SeedCountVariable} must be at least 1; it is {n}.");
        }

        return Enumerable.Range(first, n).ToList();
    }

    /// <summary>The one command that replays <paramref name="seed"/>.</summary>
    public static string ReproCommand(int seed, string testProject, string testFilter) =>
        $"{SeedVariable}={seed.ToString(CultureInfo.InvariantCulture)} dotnet test {testProject} --filter {testFilter}";

    private static int ParseInt(string value, string variable) =>
        int.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int parsed)
            ? parsed
            : throw new ArgumentException($"The value of {variable} must be an integer; it is '{value}'. Unset it or give a number.");
}
