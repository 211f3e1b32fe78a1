using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Simulation;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Tests.Simulation;

/// <summary>Proves the simulator can fail: broken stores are reported with their seed, and a seed replays exactly.</summary>
public sealed class SimulatorSelfTests
{
    private const int Seed = 7;

    [Fact]
    public async Task RunAsync_StoreLosesActivityResults_ReportsLostResultNamingSeed()
    {
        var simulator = new Simulator(clock => new ResultLosingStore(new InMemoryOrchestrationStore(clock)));

        SimulationResult result = await simulator.RunAsync(Seed);

        result.ActivityExecutions.Should().BePositive("the seed must run activities for the test to mean anything");
        result.Passed.Should().BeFalse();
        result.Violations.Should().Contain(v => v.Contains("its result was lost", StringComparison.Ordinal));
        result.Describe().Should().Contain($"KESTREL_SIM_SEED={Seed} dotnet test tests/Kestrel.Cloud.Durable.Tests --filter FullyQualifiedName~Simulation");
    }

    [Fact]
    public async Task RunAsync_StoreCorruptsActivityResults_ReportsOutputDifference()
    {
        var simulator = new Simulator(clock => new ResultCorruptingStore(new InMemoryOrchestrationStore(clock)));

        SimulationResult result = await simulator.RunAsync(Seed);

        result.ActivityExecutions.Should().BePositive("the seed must run activities for the test to mean anything");
        result.Passed.Should().BeFalse();
        result.Violations.Should().Contain(v => v.Contains("the fault-free", StringComparison.Ordinal), "the observed results differ from what the program computes");
        result.Describe().Should().Contain($"KESTREL_SIM_SEED={Seed} ");
    }

    [Fact]
    public async Task RunAsync_StoreForgetsWakeUps_ReportsUnfinishedInstances()
    {
        var simulator = new Simulator(
            clock => new WakeUpForgettingStore(new InMemoryOrchestrationStore(clock)),
            new SimulationOptions { InjectFaults = false });

        IReadOnlyList<SimulationResult> results = await RunSeedsAsync(simulator, 1, 10);

        // Any seed with a timer, retry or delayed event must be left unfinished when the store forgets when work wakes up.
        results.Should().Contain(r => !r.Passed);
        results.Where(r => !r.Passed).SelectMany(r => r.Violations).Should().Contain(v => v.StartsWith("Liveness: instance", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_SameSeedTwice_SameScheduleAndOutcome()
    {
        var simulator = new Simulator(clock => new InMemoryOrchestrationStore(clock));

        SimulationResult first = await simulator.RunAsync(Seed);
        SimulationResult second = await simulator.RunAsync(Seed);
        SimulationResult other = await simulator.RunAsync(Seed + 1);

        second.Fingerprint.Should().Be(first.Fingerprint);
        second.LastActions.Should().Equal(first.LastActions);
        second.StepCommits.Should().Be(first.StepCommits);
        second.ActivityExecutions.Should().Be(first.ActivityExecutions);
        other.Fingerprint.Should().NotBe(first.Fingerprint);
    }

    [Fact]
    public async Task RunAsync_FaultsOff_InjectsNoFaultAndPasses()
    {
        var simulator = new Simulator(clock => new InMemoryOrchestrationStore(clock), new SimulationOptions { InjectFaults = false });

        SimulationResult result = await simulator.RunAsync(Seed);

        result.Violations.Should().BeEmpty();
        result.Faults.Counts.Values.Should().AllBeEquivalentTo(0);
        result.Faults.LockLostCommits.Should().Be(0);
        result.ProcessRestarts.Should().Be(0);
    }

    [Fact]
    public void RecordCommit_SameStepCommittedTwice_ReportsViolation()
    {
        var ledger = new CommitLedger();
        var record = new InstanceRecord
        {
            InstanceId = "i",
            Name = SimOrchestrator.Name,
            ExecutionId = "e",
            Status = OrchestrationRuntimeStatus.Running,
            CreatedAt = DateTime.UnixEpoch,
            LastUpdatedAt = DateTime.UnixEpoch,
            HistoryCount = 3,
        };
        var item = new OrchestrationWorkItem(record, [], "lock", 1);
        var commit = new OrchestrationStepCommit
        {
            Instance = record with { Status = OrchestrationRuntimeStatus.Completed, HistoryCount = 5 },
            NewEvents = [new OrchestratorStartedEvent(), new ExecutionCompletedEvent(OrchestrationRuntimeStatus.Completed, null, null)],
            Activities = [],
            Messages = [],
        };

        ledger.RecordCommit(item, commit);
        ledger.Violations.Should().BeEmpty();
        ledger.RecordCommit(item, commit);

        ledger.Violations.Should().ContainSingle().Which.Should().Contain("Step committed twice: instance 'i', execution 'e', history length 3");
        ledger.TerminalTransitionsOf("i").Should().Be(2);
    }

    [Theory]
    [InlineData("42", null, null, new[] { 42 })]
    [InlineData(null, "3", null, new[] { 1, 2, 3 })]
    [InlineData(null, "2", "100", new[] { 100, 101 })]
    [InlineData(null, null, null, new[] { 1, 2, 3, 4, 5 })]
    public void Parse_EnvironmentValues_SelectsSeeds(string? seed, string? count, string? first, int[] expected)
    {
        SimulationSeeds.Parse(seed, count, first, defaultCount: 5).Should().Equal(expected);
    }

    [Fact]
    public void Parse_NotANumber_ThrowsNamingVariable()
    {
        var act = () => SimulationSeeds.Parse("abc", null, null, 5);

        act.Should().Throw<ArgumentException>().WithMessage("The value of KESTREL_SIM_SEED must be an integer; it is 'abc'.*");
    }

    private static async Task<IReadOnlyList<SimulationResult>> RunSeedsAsync(Simulator simulator, int first, int count)
    {
        var results = new List<SimulationResult>();
        for (int seed = first; seed < first + count; seed++)
        {
            results.Add(await simulator.RunAsync(seed));
        }

        return results;
    }
}
