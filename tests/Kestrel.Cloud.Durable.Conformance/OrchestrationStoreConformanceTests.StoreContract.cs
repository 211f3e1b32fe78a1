using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>The store contract itself: locks, lost locks, duplicates, redelivery, late messages.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    private static readonly TimeSpan LockDuration = TimeSpan.FromSeconds(30);

    /// <summary>Proves an abandon with a delay holds the whole instance back: an event raised meanwhile is not delivered
    /// before the released messages, so two events with one name are still received in the order raised.</summary>
    [Fact]
    public async Task AbandonOrchestrationAsync_WithDelay_LaterMessageDoesNotOvertake()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("TwoVotes", async (ctx, _) =>
        {
            string first = await ctx.WaitForExternalEvent<string>("vote");
            string second = await ctx.WaitForExternalEvent<string>("vote");
            return $"{first},{second}";
        });
        string id = await h.StartAsync("TwoVotes");
        await h.RunUntilIdleAsync();

        await h.Client.RaiseEventAsync(id, "vote", "first");
        OrchestrationWorkItem item = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        await h.Store.AbandonOrchestrationAsync(item, TimeSpan.FromSeconds(10));
        await h.Client.RaiseEventAsync(id, "vote", "second");
        (await h.Store.TryLockNextOrchestrationAsync(LockDuration)).Should().BeNull("the instance is held back until the delay has passed");

        await h.AdvanceAsync(TimeSpan.FromSeconds(10));
        OutputOf<string>(await h.GetAsync(id)).Should().Be("first,second");
    }

    /// <summary>Proves the wake-up contract idle dispatchers rely on: no work gives null; a future timer gives its due
    /// time; once the clock passes it (no lock attempt in between) the answer is at or before now, so a worker that
    /// missed the moment does not sleep a whole poll interval; a locked instance counts from its lock expiry.</summary>
    [Fact]
    public async Task GetNextWakeUpTimeAsync_TimerComesDue_ReturnsDueTimeThenAtOrBeforeNow()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Sleeper", async (ctx, _) =>
        {
            await ctx.CreateTimer(TimeSpan.FromMinutes(10));
            return "awake";
        });
        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().BeNull("there is no work at all");

        string id = await h.StartAsync("Sleeper");
        await h.RunUntilIdleAsync();
        DateTime due = h.Now.AddMinutes(10);
        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(due);

        h.Clock.Advance(TimeSpan.FromMinutes(11));
        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().NotBeNull().And.BeOnOrBefore(h.Now);

        OrchestrationWorkItem locked = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(h.Now + LockDuration, "a locked instance is available again when its lock expires");
        await h.Store.AbandonOrchestrationAsync(locked, TimeSpan.Zero);
        await h.RunUntilIdleAsync();
        OutputOf<string>(await h.GetAsync(id)).Should().Be("awake");
    }

    /// <summary>Proves a step committed after its lock expired and another worker took the instance throws StoreConcurrencyException and
    /// changes nothing (no history, no status, no activities), while the current lock holder can still commit.</summary>
    [Fact]
    public async Task CompleteOrchestrationAsync_LockLost_ThrowsAndChangesNothing()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("go"));
        string id = await h.StartAsync("Waiter");

        OrchestrationWorkItem stale = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        stale.Should().NotBeNull();
        (await h.Store.TryLockNextOrchestrationAsync(LockDuration)).Should().BeNull("the instance is locked");
        h.Clock.Advance(LockDuration + TimeSpan.FromSeconds(1));
        OrchestrationWorkItem current = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        current.Should().NotBeNull("the first lock expired");
        current.DeliveryCount.Should().Be(2);
        current.Messages.Should().HaveSameCount(stale.Messages);

        var staleCommit = new OrchestrationStepCommit
        {
            Instance = stale.Instance with { Status = OrchestrationRuntimeStatus.Completed, Output = "\"stale\"", HistoryCount = 2 },
            NewEvents =
            [
                new OrchestratorStartedEvent { Timestamp = h.Now },
                new ExecutionCompletedEvent(OrchestrationRuntimeStatus.Completed, "\"stale\"", null) { Timestamp = h.Now },
            ],
            Activities = [new ActivityRequest(id, stale.Instance.ExecutionId, 0, "Ghost", null)],
            Messages = [new OrchestrationMessage(id, null, new EventRaisedEvent("go", "\"ghost\"", "ghost-event") { Timestamp = h.Now })],
        };
        Func<Task> commit = () => h.Store.CompleteOrchestrationAsync(stale, staleCommit);

        await commit.Should().ThrowAsync<StoreConcurrencyException>();
        (await h.Store.GetInstanceAsync(id))!.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        (await h.Store.GetHistoryAsync(id)).Should().BeEmpty();
        (await h.Store.TryLockNextActivityAsync(LockDuration)).Should().BeNull("the stale commit's activity must not exist");

        await h.Worker.ProcessOrchestrationAsync(current);
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        (await h.RunUntilIdleAsync()).Should().Be(0, "the stale commit's message must not exist either");
    }

    /// <summary>Proves the worker drops a step whose lock was lost (logging event 1001) without changing the instance.</summary>
    [Fact]
    public async Task ProcessOrchestrationAsync_LockLost_DropsTheStepAndLogs()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("go"));
        string id = await h.StartAsync("Waiter");
        OrchestrationWorkItem stale = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        h.Clock.Advance(LockDuration + TimeSpan.FromSeconds(1));
        await h.RunUntilIdleAsync();
        IReadOnlyList<HistoryEvent> before = await h.Store.GetHistoryAsync(id);

        await h.Worker.ProcessOrchestrationAsync(stale);

        (await h.Store.GetHistoryAsync(id)).Should().HaveCount(before.Count);
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        h.Logs.Entries.Should().Contain(e => e.EventId.Id == 1001 && e.Message.Contains(id, StringComparison.Ordinal));
    }

    /// <summary>Proves CompleteActivityAsync after the activity's lock was lost returns false and delivers nothing; the redelivered copy's
    /// result is the one the orchestrator sees. Lock renewal reports the loss too.</summary>
    [Fact]
    public async Task CompleteActivityAsync_LockLost_ReturnsFalseAndDeliversNothing()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<string, string>("Work", (_, s) => s)
            .AddOrchestratorFunc<object?, string>("OneCall", async (ctx, _) => await ctx.CallActivityAsync<string>("Work", "real"));
        string id = await h.StartAsync("OneCall");
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();

        ActivityWorkItem stale = (await h.Store.TryLockNextActivityAsync(LockDuration))!;
        stale.Should().NotBeNull();
        (await h.Store.TryLockNextActivityAsync(LockDuration)).Should().BeNull("the activity is locked");
        h.Clock.Advance(LockDuration + TimeSpan.FromSeconds(1));
        ActivityWorkItem current = (await h.Store.TryLockNextActivityAsync(LockDuration))!;
        current.Should().NotBeNull("the first lock expired");
        current.DeliveryCount.Should().Be(2);
        current.Request.Should().Be(stale.Request);

        (await h.Store.RenewActivityLockAsync(stale, LockDuration)).Should().BeFalse();
        (await h.Store.RenewActivityLockAsync(current, LockDuration)).Should().BeTrue();
        var staleResult = new OrchestrationMessage(id, stale.Request.ExecutionId, new TaskCompletedEvent(stale.Request.TaskId, "\"from the stale worker\"") { Timestamp = h.Now });
        (await h.Store.CompleteActivityAsync(stale, staleResult)).Should().BeFalse();
        (await h.Store.TryLockNextOrchestrationAsync(LockDuration)).Should().BeNull("a lost completion must not reach the inbox");

        await h.Worker.ProcessActivityAsync(current);
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("real");
    }

    /// <summary>Proves a duplicate activity result (same task id, delivered twice by an at-least-once transport) is observed exactly once,
    /// whether it arrives in the same step as the original or after the orchestrator moved on.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ActivityResult_DuplicateDelivery_IsObservedExactlyOnce(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        h.Registry
            .AddActivityFunc<string, string>("Echo", (_, s) => s)
            .AddOrchestratorFunc<object?, string>("Observer", async (ctx, _) =>
            {
                string first = await ctx.CallActivityAsync<string>("Echo", "original");
                string second = await ctx.CallActivityAsync<string>("Echo", "second call");
                string go = await ctx.WaitForExternalEvent<string>("go");
                return $"{first}|{second}|{go}";
            });

        string id = await h.StartAsync("Observer");
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        ActivityWorkItem item = (await h.Store.TryLockNextActivityAsync(LockDuration))!;
        await h.Worker.ProcessActivityAsync(item);
        OrchestrationMessage duplicate(string result) =>
            new(id, item.Request.ExecutionId, new TaskCompletedEvent(item.Request.TaskId, $"\"{result}\"") { Timestamp = h.Now });

        await h.Store.SendMessageAsync(duplicate("duplicate in the same step"));
        await h.RunUntilIdleAsync();
        await h.Store.SendMessageAsync(duplicate("duplicate after moving on"));
        await h.RunUntilIdleAsync();
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.Client.RaiseEventAsync(id, "go", "go");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("original|second call|go");
        (await HistoryOfAsync<TaskCompletedEvent>(h, id)).Select(e => e.TaskScheduledId).Should().OnlyHaveUniqueItems().And.HaveCount(2);
    }

    /// <summary>Proves an abandoned orchestration work item is delivered again with the same messages: at once, or after the given delay.</summary>
    [Fact]
    public async Task AbandonOrchestrationAsync_WorkItemIsDeliveredAgain()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<string, string>("Echo", (_, s) => Task.FromResult(s));
        string id = await h.StartAsync("Echo", "hi");

        OrchestrationWorkItem first = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        await h.Store.AbandonOrchestrationAsync(first, TimeSpan.Zero);
        OrchestrationWorkItem second = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        second.Should().NotBeNull();
        second.DeliveryCount.Should().Be(2);
        second.Messages.Select(m => m.Event).Should().Equal(first.Messages.Select(m => m.Event));

        await h.Store.AbandonOrchestrationAsync(second, TimeSpan.FromMinutes(1));
        (await h.Store.TryLockNextOrchestrationAsync(LockDuration)).Should().BeNull("the messages are hidden for the delay");
        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(T0.AddMinutes(1));
        h.Clock.Advance(TimeSpan.FromMinutes(1));
        OrchestrationWorkItem third = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        third.Should().NotBeNull();
        third.DeliveryCount.Should().Be(3);

        await h.Worker.ProcessOrchestrationAsync(third);
        OutputOf<string>(await h.GetAsync(id)).Should().Be("hi");
    }

    /// <summary>Proves the store counts deliveries across abandons, so the worker fails an instance whose steps keep failing in the
    /// engine once MaxOrchestrationDeliveryAttempts is exceeded, instead of retrying it forever.</summary>
    [Fact]
    public async Task AbandonOrchestrationAsync_BeyondMaxDeliveryAttempts_WorkerFailsTheInstanceAsPoison()
    {
        EngineHarness h = await this.CreateHarnessAsync(o => o.MaxOrchestrationDeliveryAttempts = 3);
        h.Registry.AddOrchestratorFunc<object?, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("go"));
        string id = await h.StartAsync("Waiter");

        for (int delivery = 1; delivery <= 3; delivery++)
        {
            OrchestrationWorkItem item = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
            item.DeliveryCount.Should().Be(delivery);
            await h.Store.AbandonOrchestrationAsync(item, TimeSpan.Zero); // as the worker does after an engine error
        }

        OrchestrationWorkItem fourth = (await h.Store.TryLockNextOrchestrationAsync(LockDuration))!;
        fourth.DeliveryCount.Should().Be(4);
        await h.Worker.ProcessOrchestrationAsync(fourth);

        OrchestrationMetadata meta = await h.GetAsync(id);
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorType.Should().Be("Kestrel.Cloud.Durable.PoisonWorkItem");
        meta.FailureDetails.ErrorMessage.Should().Contain("MaxOrchestrationDeliveryAttempts = 3");
        (await h.RunUntilIdleAsync()).Should().Be(0);
    }

    /// <summary>Proves an abandoned activity is delivered again (at once or after the delay) and its result is then recorded once.</summary>
    [Fact]
    public async Task AbandonActivityAsync_ActivityIsDeliveredAgain()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        int runs = 0;
        h.Registry
            .AddActivityFunc<string, string>("Work", (_, s) =>
            {
                runs++;
                return s + "!";
            })
            .AddOrchestratorFunc<object?, string>("OneCall", async (ctx, _) => await ctx.CallActivityAsync<string>("Work", "done"));
        string id = await h.StartAsync("OneCall");
        await h.Worker.TryProcessNextOrchestrationAsync();

        ActivityWorkItem first = (await h.Store.TryLockNextActivityAsync(LockDuration))!;
        await h.Store.AbandonActivityAsync(first, TimeSpan.Zero);
        ActivityWorkItem second = (await h.Store.TryLockNextActivityAsync(LockDuration))!;
        second.Should().NotBeNull();
        second.DeliveryCount.Should().Be(2);
        second.Request.Should().Be(first.Request);

        await h.Store.AbandonActivityAsync(second, TimeSpan.FromMinutes(1));
        (await h.Store.TryLockNextActivityAsync(LockDuration)).Should().BeNull("the activity is hidden for the delay");
        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Activity)).Should().Be(T0.AddMinutes(1));
        await h.AdvanceAsync(TimeSpan.FromMinutes(1));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("done!");
        runs.Should().Be(1);
        (await HistoryOfAsync<TaskCompletedEvent>(h, id)).Should().ContainSingle();
    }

    /// <summary>Proves messages for a finished instance (an event, a late activity result, a late timer) are consumed harmlessly:
    /// the worker goes idle and status, output and history stay as they were.</summary>
    [Fact]
    public async Task Messages_ForFinishedInstance_AreConsumedHarmlessly()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        int runs = 0;
        h.Registry
            .AddActivityFunc<string, string>("Slow", (_, s) =>
            {
                runs++;
                return s;
            })
            .AddOrchestratorFunc<object?, string>("Busy", async (ctx, _) =>
            {
                Task<string> work = ctx.CallActivityAsync<string>("Slow", "result");
                Task timer = ctx.CreateTimer(TimeSpan.FromMinutes(5));
                await Task.WhenAll(work, timer);
                return await work;
            });

        string id = await h.StartAsync("Busy");
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        await h.Client.TerminateInstanceAsync(id, "stop");
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        OrchestrationMetadata terminated = await h.GetAsync(id);
        terminated.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Terminated);
        int historyCount = (await h.Client.GetHistoryAsync(id)).Count;

        await h.Client.RaiseEventAsync(id, "anything", 1);
        await h.AdvanceAsync(TimeSpan.FromMinutes(10)); // the activity still runs; its result and the timer arrive late

        runs.Should().Be(1, "an activity already handed out is not withdrawn");
        (await h.Store.TryLockNextOrchestrationAsync(LockDuration)).Should().BeNull("every late message was consumed");
        OrchestrationMetadata after = await h.GetAsync(id);
        after.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Terminated);
        after.SerializedOutput.Should().Be(terminated.SerializedOutput);
        (await h.Client.GetHistoryAsync(id)).Should().HaveCount(historyCount);
    }

    /// <summary>Proves a sub-orchestration start and an event for other instances, committed with a step, are routed atomically:
    /// the child is created and the event reaches the other instance.</summary>
    [Fact]
    public async Task CompleteOrchestrationAsync_RoutesEventsToOtherInstances()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddOrchestratorFunc<object?, string>("Receiver", async (ctx, _) => await ctx.WaitForExternalEvent<string>("note"))
            .AddOrchestratorFunc<string, string>("Sender", (ctx, target) =>
            {
                ctx.SendEvent(target, "note", "hello from sender");
                ctx.SendEvent("does-not-exist", "note", "dropped");
                return Task.FromResult("sent");
            });

        string receiver = await h.StartAsync("Receiver");
        await h.RunUntilIdleAsync();
        OrchestrationMetadata sender = await h.RunAsync("Sender", receiver);

        OutputOf<string>(sender).Should().Be("sent");
        OutputOf<string>(await h.GetAsync(receiver)).Should().Be("hello from sender");
        (await h.Client.GetInstanceAsync("does-not-exist")).Should().BeNull("an event for a missing instance is dropped, not a creation");
    }
}
