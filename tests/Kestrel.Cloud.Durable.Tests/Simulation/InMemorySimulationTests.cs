using Kestrel.Cloud.Durable.Simulation;
using Kestrel.Cloud.Durable.Storage;
using Xunit.Abstractions;

namespace Kestrel.Cloud.Durable.Tests.Simulation;

/// <summary>The seeded simulation with fault injection on the in-memory store.</summary>
public sealed class InMemorySimulationTests
{
    /// <summary>Seeds the default run covers.</summary>
    public const int DefaultSeedCount = 500;

    /// <summary>Seeds the default poison run covers.</summary>
    public const int PoisonSeedCount = 200;

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

        SimulationReport report = await SimulationRunner.RunAsync(new Simulator(clock => new InMemoryOrchestrationStore(clock)), seeds);

        this.output.WriteLine(report.Format());
        report.FailedSeeds.Should().BeEmpty("every seed must keep every invariant. {0}", report.FailureMessage);
        if (seeds.Count >= 100)
        {
            // A broken injector would make the run vacuous: every fault kind must actually have happened.
            report.Summary.Faults.Counts.Where(kv => kv.Value == 0).Select(kv => kv.Key).Should().BeEmpty("every fault kind is injected in a run of many seeds");
            report.Summary.Faults.LockLostCommits.Should().BePositive("clock jumps must make workers lose lock races");
        }
    }

    /// <summary>
    /// With a delivery limit of 2, faults make the engine fail instances as poison; every instance must still end
    /// exactly once and every parent must hear how its child ended (no parent waits forever).
    /// </summary>
    [Fact]
    public async Task RunAsync_LowDeliveryLimit_PoisonedInstancesKeepInvariants()
    {
        IReadOnlyList<int> seeds = SimulationSeeds.FromEnvironment(PoisonSeedCount);
        var options = new SimulationOptions { MaxOrchestrationDeliveryAttempts = 2 };

        SimulationReport report = await SimulationRunner.RunAsync(new Simulator(clock => new InMemoryOrchestrationStore(clock), options), seeds);

        this.output.WriteLine(report.Format());
        report.FailedSeeds.Should().BeEmpty("every seed must keep every invariant. {0}", report.FailureMessage);
        if (seeds.Count >= 100)
        {
            report.Summary.PoisonedInstances.Should().BePositive("a delivery limit of 2 under faults must poison instances");
        }
    }
}
