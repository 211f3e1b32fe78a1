using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>
/// Runs many seeds and reports them: the body of every store's simulation test.
/// <code>
/// SimulationReport report = await SimulationRunner.RunAsync(
///     new Simulator(clock => new SqliteOrchestrationStore(...), new SimulationOptions { TestProject = "tests/...", TestFilter = "..." }),
///     SimulationSeeds.FromEnvironment(defaultCount: 50));
/// output.WriteLine(report.Format());
/// report.FailedSeeds.Should().BeEmpty("{0}", report.FailureMessage);
/// </code>
/// </summary>
public static class SimulationRunner
{
    /// <summary>Runs every seed in order (one at a time: the simulation uses no threads).</summary>
    public static async Task<SimulationReport> RunAsync(Simulator simulator, IReadOnlyList<int> seeds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(simulator);
        ArgumentNullException.ThrowIfNull(seeds);
        var summary = new SimulationSummary();
        var failures = new List<SimulationResult>();
        var stopwatch = Stopwatch.StartNew();
        foreach (int seed in seeds)
        {
            SimulationResult result = await simulator.RunAsync(seed, cancellationToken).ConfigureAwait(false);
            summary.Add(result);
            if (!result.Passed)
            {
                failures.Add(result);
            }
        }

        return new SimulationReport(summary, failures, stopwatch.Elapsed);
    }
}

/// <summary>What a run of many seeds found.</summary>
public sealed class SimulationReport
{
    private const int MaxDescribedFailures = 5;

    /// <summary>Creates a report.</summary>
    public SimulationReport(SimulationSummary summary, IReadOnlyList<SimulationResult> failures, TimeSpan elapsed)
    {
        this.Summary = summary;
        this.Failures = failures;
        this.Elapsed = elapsed;
    }

    /// <summary>Totals over all seeds.</summary>
    public SimulationSummary Summary { get; }

    /// <summary>The seeds that violated an invariant, in order.</summary>
    public IReadOnlyList<SimulationResult> Failures { get; }

    /// <summary>The failing seeds.</summary>
    public IReadOnlyList<int> FailedSeeds => this.Failures.Select(f => f.Seed).ToList();

    /// <summary>Wall-clock time of the run, for the output only (never asserted).</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The failing seeds, the first failure in full and the command that replays it; empty when all passed.</summary>
    public string FailureMessage => this.Failures.Count == 0
        ? string.Empty
        : string.Create(
            CultureInfo.InvariantCulture,
            $"{this.Failures.Count} of {this.Summary.Seeds} seeds violated invariants (seeds {string.Join(", ", this.FailedSeeds.Take(20))}{(this.Failures.Count > 20 ? ", ..." : string.Empty)}). " +
            $"The first:{Environment.NewLine}{this.Failures[0].Describe()}");

    /// <summary>The summary and the first failures, for the test output.</summary>
    public string Format()
    {
        var sb = new StringBuilder(this.Summary.Format(this.Elapsed));
        foreach (SimulationResult failure in this.Failures.Take(MaxDescribedFailures))
        {
            sb.AppendLine(failure.Describe());
        }

        return sb.ToString();
    }
}
