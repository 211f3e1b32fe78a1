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

    public EngineRegressionTests()
    {
        this.store = new InMemoryOrchestrationStore(this.clock);
        var registry = new DurableTaskRegistry()
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
        this.worker = new DurableTaskWorker(this.store, registry, EmptyServiceProvider.Instance, Options.Create(new DurableTaskOptions()), this.clock);
    }

    /// <summary>Seeds 22 and 151: a late message for the previous execution, stepped before the restart's
    /// ExecutionStarted (which was delayed), moved a running instance back to Pending.</summary>
    [Fact]
    public async Task ProcessOrchestrationAsync_StaleMessageBeforeDelayedRestart_InstanceStaysRunning()
    {
        var start = new ExecutionStartedEvent("Loop", "0", "exec-0") { Timestamp = this.Now };
        await this.store.CreateInstanceAsync(new OrchestrationMessage("loop", "exec-0", start));
        (await this.worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        (await this.worker.TryProcessNextActivityAsync()).Should().BeTrue();
        (await this.worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        (await this.store.GetInstanceAsync("loop"))!.ExecutionId.Should().NotBe("exec-0", "the instance continued as new");

        OrchestrationWorkItem restart = (await this.store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1)))!;
        restart.Messages.Should().ContainSingle().Which.Event.Should().BeOfType<ExecutionStartedEvent>();
        await this.store.AbandonOrchestrationAsync(restart, TimeSpan.FromMinutes(5));
        await this.store.SendMessageAsync(new OrchestrationMessage("loop", "exec-0", new TaskCompletedEvent(0, "1") { Timestamp = this.Now }));

        (await this.worker.TryProcessNextOrchestrationAsync()).Should().BeTrue("the stale result is delivered first");

        (await this.store.GetInstanceAsync("loop"))!.Status.Should().Be(OrchestrationRuntimeStatus.Running);
        this.clock.Advance(TimeSpan.FromMinutes(5));
        await this.RunUntilIdleAsync();
        await this.store.SendMessageAsync(new OrchestrationMessage("loop", null, new EventRaisedEvent("go", "\"yes\"", "ev-1") { Timestamp = this.Now }));
        await this.RunUntilIdleAsync();
        InstanceRecord done = (await this.store.GetInstanceAsync("loop"))!;
        done.Status.Should().Be(OrchestrationRuntimeStatus.Completed);
        done.Output.Should().Be("\"yes\"");
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

    private DateTime Now => this.clock.GetUtcNow().UtcDateTime;

    private async Task RunUntilIdleAsync()
    {
        for (int i = 0; i < 100 && (await this.worker.TryProcessNextOrchestrationAsync() | await this.worker.TryProcessNextActivityAsync()); i++)
        {
        }
    }
}
