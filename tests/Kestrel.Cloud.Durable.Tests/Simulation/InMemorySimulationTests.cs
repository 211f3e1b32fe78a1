using System.Diagnostics;
using Kestrel.Cloud.Durable.Simulation;
using Kestrel.Cloud.Durable.Storage;
using Xunit.Abstractions;

namespace Kestrel.Cloud.Durable.Tests.Simulation;

/// <summary>The seeded simulation with fault injection on the in-memory store.</summary>
public sealed class InMemorySimulationTests
{
    /// <summary>Seeds the default run covers.</summary>
    public const int DefaultSeedCount = 500;

    private readonly ITestOutputHelper output;

    public InMemorySimulationTests(ITestOutputHelper output) => this.output = output;

    /// <summary>
    /// Proves the engine keeps every invariant (see <see cref="Simulator"/>) under crashes, duplicate, reordered and
    /// delayed deliveries and lock races, for every seed; a failure names each failing seed and its replay command.
    /// </summary>
    [Fact]
    public async Task RunAsync_ManySeedsWithFaults_EveryInvariantHolds()
    {
        IReadOnlyList<int> seeds = SimulationSeeds.FromEnvironment(DefaultSeedCount);
        var simulator = new Simulator(clock => new InMemoryOrchestrationStore(clock));
        var summary = new SimulationSummary();
        var failures = new List<SimulationResult>();
        var stopwatch = Stopwatch.StartNew();
        foreach (int seed in seeds)
        {
            SimulationResult result = await simulator.RunAsync(seed);
            summary.Add(result);
            if (!result.Passed)
            {
                failures.Add(result);
            }
        }

        this.output.WriteLine(summary.Format(stopwatch.Elapsed));
        foreach (SimulationResult failure in failures.Take(5))
        {
            this.output.WriteLine(failure.Describe());
        }

        failures.Select(f => f.Seed).Should().BeEmpty(
            "every seed must keep every invariant; the first failure was:{0}{1}",
            Environment.NewLine,
            failures.FirstOrDefault()?.Describe());
        if (seeds.Count >= 100)
        {
            // A broken injector would make this run vacuous: every fault kind must actually have happened.
            summary.Faults.Counts.Where(kv => kv.Value == 0).Select(kv => kv.Key).Should().BeEmpty("every fault kind is injected somewhere in a run of many seeds");
            summary.Faults.LockLostCommits.Should().BePositive("clock jumps must make workers lose lock races");
        }
    }
}
