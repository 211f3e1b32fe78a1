using Kestrel.Cloud.Durable.Simulation;
using Kestrel.Cloud.Testing;
using Xunit.Abstractions;

namespace Kestrel.Cloud.Durable.Sqlite.Tests.Simulation;

/// <summary>The seeded fault-injecting simulation on the SQLite store: one fresh database file per seed.</summary>
public sealed class SqliteSimulationTests : IDisposable
{
    /// <summary>Seeds the default run covers (fewer than in memory: every seed is a real database file).</summary>
    public const int DefaultSeedCount = 100;

    private readonly ITestOutputHelper output;
    private readonly TempDirectory folder = new("kestrel-sqlite-sim");

    public SqliteSimulationTests(ITestOutputHelper output) => this.output = output;

    /// <summary>Proves the SQLite store keeps every engine invariant under crashes, duplicate, reordered and delayed
    /// deliveries and lock races; a failure names each failing seed and the command that replays it.</summary>
    [Fact]
    public async Task RunAsync_ManySeedsWithFaults_EveryInvariantHolds()
    {
        IReadOnlyList<int> seeds = SimulationSeeds.FromEnvironment(DefaultSeedCount);
        var options = new SimulationOptions
        {
            TestProject = "tests/Kestrel.Cloud.Durable.Sqlite.Tests",
            TestFilter = "FullyQualifiedName~SqliteSimulation",
        };
        var simulator = new Simulator(
            clock => new SqliteOrchestrationStore(new SqliteStoreOptions { DatabasePath = Path.Combine(this.folder.Path, $"{Guid.NewGuid():N}.db") }, clock),
            options);

        SimulationReport report = await SimulationRunner.RunAsync(simulator, seeds);

        this.output.WriteLine(report.Format());
        report.FailedSeeds.Should().BeEmpty("every seed must keep every invariant. {0}", report.FailureMessage);
        if (seeds.Count >= 50)
        {
            report.Summary.Faults.LockLostCommits.Should().BePositive("clock jumps must make workers lose lock races");
        }
    }

    public void Dispose() => this.folder.Dispose();
}
