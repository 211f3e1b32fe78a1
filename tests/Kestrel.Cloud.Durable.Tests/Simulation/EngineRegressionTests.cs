using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Simulation;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.Tests.Simulation;

/// <summary>Engine bugs the simulation found, each pinned by the smallest deterministic reproduction.</summary>
public sealed class EngineRegressionTests
{
    private readonly ManualTimeProvider clock = new();
    private readonly InMemoryOrchestrationStore store;
    private readonly DurableTaskWorker worker;
    private readonly DurableTaskRegistry registry;

    public EngineRegressionTests()
    {
        this.store = new InMemoryOrchestrationStore(this.clock);
        this.registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Echo", (_, x) => x)
            .AddOrchestratorFunc<int, string>("Loop", async (ctx, iteration) =>
            {
                if (iteration == 0)
                {
                    await ctx.CallActivityAsync<int>("Echo", 1);
                    ctx.ContinueAsNew(1);
                    return "continued";
                }

                return await ctx.WaitForExternalEvent<string>("go");
            })
            .AddOrchestratorFunc<string, string>("Parent", async (ctx, _) =>
            {
                try
                {
                    return await ctx.CallSubOrchestratorAsync<string>("Loop", 1, new SubOrchestrationOptions(instanceId: "child"));
                }
                catch (TaskFailedException ex)
                {
                    return "child failed: " + ex.FailureDetails.ErrorType;
                }
            });
        this.worker = new DurableTaskWorker(this.store, this.registry, EmptyServiceProvider.Instance, Options.Create(new DurableTaskOptions()), this.clock);
    }

    /// <summary>Seeds 22 and 151: a late message for the previous execution, stepped before the restart's
    /// ExecutionStarted (delivered late by a store that does not keep order), moved a running instance back to Pending.</summary>
    [Fact]
    public async Task ProcessOrchestrationAsync_StaleMessageBeforeRestartIsApplied_InstanceStaysRunning()
    {
        var capture = new CommitCapturingStore(this.store);
        var worker = new DurableTaskWorker(capture, this.registry, EmptyServiceProvider.Instance, Options.Create(new DurableTaskOptions()), this.clock);
        var continued = new InstanceRecord
        {
            InstanceId = "loop",
            Name = "Loop",
            ExecutionId = "exec-1",
            Status = OrchestrationRuntimeStatus.Running,
            CreatedAt = this.Now,
            LastUpdatedAt = this.Now,
            HistoryCount = 0,
        };
        var stale = new OrchestrationMessage("loop", "exec-0", new TaskCompletedEvent(0, "1") { Timestamp = this.Now });

        await worker.ProcessOrchestrationAsync(new OrchestrationWorkItem(continued, [stale], "lock", 1));

        capture.Commits.Should().ContainSingle().Which.Instance.Status.Should().Be(OrchestrationRuntimeStatus.Running);
    }

    /// <summary>A sub-orchestration terminated before its ExecutionStarted was applied (its first delivery was
    /// released with a delay) must still tell its parent, or the parent waits forever.</summary>
    [Fact]
    public async Task ProcessOrchestrationAsync_ChildTerminatedBeforeItsStartIsApplied_ParentIsNotified()
    {
        var start = new ExecutionStartedEvent("Parent", "\"x\"", "parent-0") { Timestamp = this.Now };
        await this.store.CreateInstanceAsync(new OrchestrationMessage("parent", "parent-0", start));
        (await this.worker.TryProcessNextOrchestrationAsync()).Should().BeTrue("the parent starts the child");
        OrchestrationWorkItem childStart = (await this.store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1)))!;
        childStart.InstanceId.Should().Be("child");
        await this.store.AbandonOrchestrationAsync(childStart, TimeSpan.FromMinutes(5));
        await this.store.SendMessageAsync(new OrchestrationMessage("child", null, new ExecutionTerminatedEvent("stop") { Timestamp = this.Now }));

        await this.RunUntilIdleAsync();
        this.clock.Advance(TimeSpan.FromMinutes(5));
        await this.RunUntilIdleAsync();

        (await this.store.GetInstanceAsync("child"))!.Status.Should().Be(OrchestrationRuntimeStatus.Terminated);
        InstanceRecord parent = (await this.store.GetInstanceAsync("parent"))!;
        parent.Status.Should().Be(OrchestrationRuntimeStatus.Completed, "the parent must learn that its child ended");
        parent.Output.Should().Be("\"child failed: Kestrel.Cloud.Durable.OrchestrationTerminated\"");
    }

    /// <summary>Seeds 12, 28, 42, ...: an instance suspended before its (scheduled) start ran its orchestrator
    /// when the start arrived, scheduling work while suspended. It must wait for the resume.</summary>
    [Fact]
    public async Task ProcessOrchestrationAsync_StartArrivesWhileSuspended_RunsOnlyAfterResume()
    {
        var start = new ExecutionStartedEvent("Loop", "0", "exec-0") { Timestamp = this.Now };
        await this.store.CreateInstanceAsync(new OrchestrationMessage("loop", "exec-0", start, this.Now.AddMinutes(10)));
        await this.store.SendMessageAsync(new OrchestrationMessage("loop", null, new ExecutionSuspendedEvent("hold") { Timestamp = this.Now }));
        await this.RunUntilIdleAsync();
        this.clock.Advance(TimeSpan.FromMinutes(10));

        await this.RunUntilIdleAsync();

        (await this.store.GetInstanceAsync("loop"))!.Status.Should().Be(OrchestrationRuntimeStatus.Suspended);
        (await this.store.GetHistoryAsync("loop")).OfType<TaskScheduledEvent>().Should().BeEmpty("a suspended instance runs no orchestrator code");
        (await this.worker.TryProcessNextActivityAsync()).Should().BeFalse();

        await this.store.SendMessageAsync(new OrchestrationMessage("loop", null, new ExecutionResumedEvent("go on") { Timestamp = this.Now }));
        await this.RunUntilIdleAsync();
        await this.store.SendMessageAsync(new OrchestrationMessage("loop", null, new EventRaisedEvent("go", "\"yes\"", "ev-1") { Timestamp = this.Now }));
        await this.RunUntilIdleAsync();
        InstanceRecord done = (await this.store.GetInstanceAsync("loop"))!;
        done.Status.Should().Be(OrchestrationRuntimeStatus.Completed);
        done.Output.Should().Be("\"yes\"");
    }

    /// <summary>Seed 12: suspended and resumed before its scheduled start, an instance is Pending again (it was
    /// left Suspended, and the next step then ran orchestrator code on an instance reported as suspended).</summary>
    [Fact]
    public async Task ProcessOrchestrationAsync_ResumedBeforeStart_PendingAgainThenRuns()
    {
        var start = new ExecutionStartedEvent("Loop", "0", "exec-0") { Timestamp = this.Now };
        await this.store.CreateInstanceAsync(new OrchestrationMessage("loop", "exec-0", start, this.Now.AddMinutes(10)));
        await this.store.SendMessageAsync(new OrchestrationMessage("loop", null, new ExecutionSuspendedEvent("hold") { Timestamp = this.Now }));
        await this.RunUntilIdleAsync();
        (await this.store.GetInstanceAsync("loop"))!.Status.Should().Be(OrchestrationRuntimeStatus.Suspended);

        await this.store.SendMessageAsync(new OrchestrationMessage("loop", null, new ExecutionResumedEvent("go on") { Timestamp = this.Now }));
        await this.RunUntilIdleAsync();

        (await this.store.GetInstanceAsync("loop"))!.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        this.clock.Advance(TimeSpan.FromMinutes(10));
        await this.RunUntilIdleAsync();
        (await this.store.GetInstanceAsync("loop"))!.Status.Should().Be(OrchestrationRuntimeStatus.Running);
    }

    /// <summary>A sub-orchestration suspended and then terminated before its deferred start still tells its parent.</summary>
    [Fact]
    public async Task ProcessOrchestrationAsync_ChildTerminatedWhileItsStartIsDeferred_ParentIsNotified()
    {
        var start = new ExecutionStartedEvent("Parent", "\"x\"", "parent-0") { Timestamp = this.Now };
        await this.store.CreateInstanceAsync(new OrchestrationMessage("parent", "parent-0", start));
        (await this.worker.TryProcessNextOrchestrationAsync()).Should().BeTrue("the parent starts the child");
        OrchestrationWorkItem childStart = (await this.store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1)))!;
        await this.store.AbandonOrchestrationAsync(childStart, TimeSpan.FromMinutes(5));
        await this.store.SendMessageAsync(new OrchestrationMessage("child", null, new ExecutionSuspendedEvent("hold") { Timestamp = this.Now }));
        await this.RunUntilIdleAsync();
        this.clock.Advance(TimeSpan.FromMinutes(5));
        await this.RunUntilIdleAsync();
        await this.store.SendMessageAsync(new OrchestrationMessage("child", null, new ExecutionTerminatedEvent("stop") { Timestamp = this.Now }));

        await this.RunUntilIdleAsync();

        (await this.store.GetInstanceAsync("child"))!.Status.Should().Be(OrchestrationRuntimeStatus.Terminated);
        InstanceRecord parent = (await this.store.GetInstanceAsync("parent"))!;
        parent.Status.Should().Be(OrchestrationRuntimeStatus.Completed, "the parent must learn that its child ended");
        parent.Output.Should().Be("\"child failed: Kestrel.Cloud.Durable.OrchestrationTerminated\"");
    }

    /// <summary>Seeds 23, 81, 86, ...: a step released with a delay (a store error, a delayed delivery) let an
    /// event raised later overtake the released one, so two events with one name were received out of order.</summary>
    [Fact]
    public async Task AbandonOrchestrationAsync_MessageArrivesDuringDelay_DoesNotOvertakeReleasedOnes()
    {
        var start = new ExecutionStartedEvent("Loop", "1", "exec-0") { Timestamp = this.Now };
        await this.store.CreateInstanceAsync(new OrchestrationMessage("loop", "exec-0", start));
        await this.RunUntilIdleAsync();
        await this.store.SendMessageAsync(new OrchestrationMessage("loop", null, new EventRaisedEvent("go", "\"first\"", "ev-1") { Timestamp = this.Now }));
        OrchestrationWorkItem first = (await this.store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1)))!;
        await this.store.AbandonOrchestrationAsync(first, TimeSpan.FromSeconds(30));
        await this.store.SendMessageAsync(new OrchestrationMessage("loop", null, new EventRaisedEvent("go", "\"second\"", "ev-2") { Timestamp = this.Now }));

        (await this.store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1))).Should().BeNull("the instance waits out the delay as a whole");
        (await this.store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(this.Now.AddSeconds(30));
        this.clock.Advance(TimeSpan.FromSeconds(30));
        OrchestrationWorkItem both = (await this.store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1)))!;

        both.Messages.Select(m => ((EventRaisedEvent)m.Event).EventId).Should().Equal("ev-1", "ev-2");
        await this.worker.ProcessOrchestrationAsync(both);
        (await this.store.GetInstanceAsync("loop"))!.Output.Should().Be("\"first\"");
    }

    private DateTime Now => this.clock.GetUtcNow().UtcDateTime;

    private async Task RunUntilIdleAsync()
    {
        for (int i = 0; i < 100 && (await this.worker.TryProcessNextOrchestrationAsync() | await this.worker.TryProcessNextActivityAsync()); i++)
        {
        }
    }

    /// <summary>Records step commits instead of applying them.</summary>
    private sealed class CommitCapturingStore : DelegatingOrchestrationStore
    {
        public CommitCapturingStore(IOrchestrationStore inner)
            : base(inner)
        {
        }

        public List<OrchestrationStepCommit> Commits { get; } = new();

        public override Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default)
        {
            this.Commits.Add(commit);
            return Task.CompletedTask;
        }
    }
}
