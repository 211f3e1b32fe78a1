using Kestrel.Cloud.Durable.Simulation;
using Kestrel.Cloud.Testing.Azurite;
using Xunit.Abstractions;

namespace Kestrel.Cloud.Durable.AzureStorage.Tests.Simulation;

/// <summary>
/// The seeded fault-injecting simulation on the Azure Storage store, on Azurite: one fresh task hub per seed, wake-ups
/// never hidden (MaxWakeUpDelay = 0) so the simulation's manual clock alone decides when timers fire and locks expire.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureStorageSimulationTests
{
    /// <summary>
    /// Seeds the default run covers: fewer than SQLite's 100, because every store operation is an HTTP call to
    /// Azurite (a seed takes about 3 s on an idle 2-core machine, up to 10 s on a busy one). KESTREL_SIM_SEEDS=N runs more.
    /// </summary>
    public const int DefaultSeedCount = 16;

    private readonly AzuriteFixture azurite;
    private readonly ITestOutputHelper output;

    public AzureStorageSimulationTests(AzuriteFixture azurite, ITestOutputHelper output)
    {
        this.azurite = azurite;
        this.output = output;
    }

    /// <summary>Proves the Azure Storage store keeps every engine invariant under crashes, duplicate, reordered and delayed
    /// deliveries and lock races; a failure names each failing seed and the command that replays it.</summary>
    [Fact]
    public async Task RunAsync_ManySeedsWithFaults_EveryInvariantHolds()
    {
        IReadOnlyList<int> seeds = SimulationSeeds.FromEnvironment(DefaultSeedCount);
        var options = new SimulationOptions
        {
            TestProject = "tests/Kestrel.Cloud.Durable.AzureStorage.Tests",
            TestFilter = "FullyQualifiedName~AzureStorageSimulation",
        };
        var simulator = new Simulator(
            clock =>
            {
                AzureStorageStoreOptions storeOptions = Harness.Options(this.azurite);
                storeOptions.MaxWakeUpDelay = TimeSpan.Zero;
                return new AzureStorageOrchestrationStore(storeOptions, clock);
            },
            options);

        SimulationReport report = await SimulationRunner.RunAsync(simulator, seeds);

        this.output.WriteLine(report.Format());
        report.FailedSeeds.Should().BeEmpty("every seed must keep every invariant. {0}", report.FailureMessage);
    }
}
