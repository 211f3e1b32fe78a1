using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>Instance lifecycle: ContinueAsNew, terminate, suspend/resume, purge, id reuse, waiting, custom status.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>Proves ContinueAsNew restarts with the new input and an empty history: GetHistoryAsync shows only the last execution.</summary>
    [Fact]
    public async Task ContinueAsNew_Loop_ResetsHistoryToTheNewExecution()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<int, int>("Identity", (_, x) => x)
            .AddOrchestratorFunc<int, int>("Counter", async (ctx, n) =>
            {
                int seen = await ctx.CallActivityAsync<int>("Identity", n);
                if (seen < 3)
                {
                    ctx.ContinueAsNew(seen + 1);
                }

                return seen * 100;
            });

        string id = await h.StartAsync("Counter", 0);
        string? firstExecution = (await h.GetAsync(id)).ExecutionId;
        await h.RunUntilIdleAsync();

        OrchestrationMetadata meta = await h.GetAsync(id);
        OutputOf<int>(meta).Should().Be(300);
        meta.ReadInputAs<int>().Should().Be(3);
        meta.ExecutionId.Should().NotBe(firstExecution);
        IReadOnlyList<HistoryEvent> history = await h.Client.GetHistoryAsync(id);
        history.OfType<ExecutionStartedEvent>().Should().ContainSingle().Which.Input.Should().Be("3");
        history.OfType<TaskScheduledEvent>().Should().ContainSingle().Which.Input.Should().Be("3");
        history.OfType<ExecutionCompletedEvent>().Should().ContainSingle();
    }

    /// <summary>Proves ContinueAsNew with preserved events carries events the old execution had not consumed into the new one, in order.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ContinueAsNew_PreserveUnprocessedEvents_CarriesThemInOrder(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        h.Registry.AddOrchestratorFunc<string, string>("Accumulator", async (ctx, seen) =>
        {
            string item = await ctx.WaitForExternalEvent<string>("item");
            string all = seen.Length == 0 ? item : $"{seen},{item}";
            if (all.Split(',').Length < 3)
            {
                ctx.ContinueAsNew(all, preserveUnprocessedEvents: true);
            }

            return all;
        });

        string id = await h.StartAsync("Accumulator", string.Empty);
        await h.RunUntilIdleAsync();
        await h.Client.RaiseEventAsync(id, "item", "one");
        await h.Client.RaiseEventAsync(id, "item", "two");
        await h.Client.RaiseEventAsync(id, "item", "three");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("one,two,three");
    }

    /// <summary>Proves ContinueAsNew without preserving events drops the events the old execution had not consumed.</summary>
    [Fact]
    public async Task ContinueAsNew_WithoutPreservingEvents_DropsUnprocessedEvents()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<string, string>("Forgetful", async (ctx, seen) =>
        {
            if (seen.Length == 0)
            {
                string item = await ctx.WaitForExternalEvent<string>("item");
                ctx.ContinueAsNew(item, preserveUnprocessedEvents: false);
                return item;
            }

            try
            {
                return seen + "," + await ctx.WaitForExternalEvent<string>("item", TimeSpan.FromMinutes(1));
            }
            catch (TaskCanceledException)
            {
                return seen + ",nothing";
            }
        });

        string id = await h.StartAsync("Forgetful", string.Empty);
        await h.RunUntilIdleAsync();
        await h.Client.RaiseEventAsync(id, "item", "one");
        await h.Client.RaiseEventAsync(id, "item", "two");
        await h.AdvanceAsync(TimeSpan.FromMinutes(2));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("one,nothing");
    }

    /// <summary>Proves an eternal orchestration that calls ContinueAsNew stays under MaxHistoryEventsPerInstance indefinitely.</summary>
    [Fact]
    public async Task ContinueAsNew_EternalLoop_NeverHitsTheHistoryLimit()
    {
        EngineHarness h = await this.CreateHarnessAsync(o => o.MaxHistoryEventsPerInstance = 10);
        h.Registry
            .AddActivityFunc<int, int>("Increment", (_, x) => x + 1)
            .AddOrchestratorFunc<int, int>("Eternal", async (ctx, n) =>
            {
                int next = await ctx.CallActivityAsync<int>("Increment", n);
                if (next < 25)
                {
                    ctx.ContinueAsNew(next);
                }

                return next;
            });

        OutputOf<int>(await h.RunAsync("Eternal", 0)).Should().Be(25);
    }

    /// <summary>Proves terminating a waiting instance makes it Terminated with the reason as output, and later events are ignored.</summary>
    [Fact]
    public async Task TerminateInstanceAsync_WhileWaiting_TerminatesWithReasonAndIgnoresLaterEvents()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("go"));

        string id = await h.StartAsync("Waiter");
        await h.RunUntilIdleAsync();
        await h.Client.TerminateInstanceAsync(id, "operator cancelled");
        await h.RunUntilIdleAsync();

        OrchestrationMetadata terminated = await h.GetAsync(id);
        terminated.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Terminated);
        terminated.ReadOutputAs<string>().Should().Be("operator cancelled");
        int historyCount = (await h.Client.GetHistoryAsync(id)).Count;

        await h.Client.RaiseEventAsync(id, "go", "too late");
        await h.Client.TerminateInstanceAsync(id, "second reason");
        (await h.RunUntilIdleAsync()).Should().BeGreaterThan(0, "the late messages are consumed");

        OrchestrationMetadata after = await h.GetAsync(id);
        after.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Terminated);
        after.ReadOutputAs<string>().Should().Be("operator cancelled");
        (await h.Client.GetHistoryAsync(id)).Should().HaveCount(historyCount);
    }

    /// <summary>Proves a terminated sub-orchestration fails the parent's call instead of leaving the parent waiting forever.</summary>
    [Fact]
    public async Task TerminateInstanceAsync_SubOrchestration_ParentGetsTaskFailedException()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddOrchestratorFunc<object?, string>("Stuck", async (ctx, _) => await ctx.WaitForExternalEvent<string>("never"))
            .AddOrchestratorFunc<object?, string>("Parent", async (ctx, _) =>
            {
                try
                {
                    return await ctx.CallSubOrchestratorAsync<string>("Stuck", null, new SubOrchestrationOptions(instanceId: "stuck-child"));
                }
                catch (TaskFailedException ex)
                {
                    return "child failed: " + ex.FailureDetails.ErrorMessage;
                }
            });

        string id = await h.StartAsync("Parent");
        await h.RunUntilIdleAsync();
        await h.Client.TerminateInstanceAsync("stuck-child", "cleanup");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().StartWith("child failed:").And.Contain("cleanup");
    }

    /// <summary>Proves a suspended instance records events but applies them only after resume, in the order they arrived.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SuspendAndResume_EventsWhileSuspended_AppliedAfterResumeInOrder(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        h.Registry.AddOrchestratorFunc<object?, string>("Collector", async (ctx, _) =>
        {
            var items = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                items.Add(await ctx.WaitForExternalEvent<string>("item"));
            }

            return string.Join(",", items);
        });

        string id = await h.StartAsync("Collector");
        await h.RunUntilIdleAsync();
        await h.Client.SuspendInstanceAsync(id, "maintenance");
        await h.RunUntilIdleAsync();
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Suspended);

        await h.Client.RaiseEventAsync(id, "item", "a");
        await h.Client.RaiseEventAsync(id, "item", "b");
        await h.RunUntilIdleAsync();
        await h.Client.RaiseEventAsync(id, "item", "c");
        await h.RunUntilIdleAsync();
        OrchestrationMetadata suspended = await h.GetAsync(id);
        suspended.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Suspended);
        suspended.SerializedOutput.Should().BeNull();

        await h.Client.ResumeInstanceAsync(id, "done");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("a,b,c");
    }

    /// <summary>Proves a timer that fires while the instance is suspended takes effect only after resume.</summary>
    [Fact]
    public async Task SuspendAndResume_TimerFiresWhileSuspended_AppliedAfterResume()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, DateTime>("Napper", async (ctx, _) =>
        {
            await ctx.CreateTimer(TimeSpan.FromMinutes(10));
            return ctx.CurrentUtcDateTime;
        });

        string id = await h.StartAsync("Napper");
        await h.RunUntilIdleAsync();
        await h.Client.SuspendInstanceAsync(id);
        await h.AdvanceAsync(TimeSpan.FromHours(1));
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Suspended);

        await h.Client.ResumeInstanceAsync(id);
        await h.RunUntilIdleAsync();

        OutputOf<DateTime>(await h.GetAsync(id)).Should().Be(T0.AddHours(1), "the continuation ran in the step that applied the resume");
    }

    /// <summary>Proves purging one finished instance deletes it with its history; purging it again reports nothing purged.</summary>
    [Fact]
    public async Task PurgeInstanceAsync_FinishedInstance_DeletesInstanceAndHistory()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<int, int>("Quick", (_, x) => Task.FromResult(x));
        OrchestrationMetadata done = await h.RunAsync("Quick", 7, "purge-me");

        (await h.Client.PurgeInstanceAsync("purge-me")).PurgedInstanceCount.Should().Be(1);

        (await h.Client.GetInstanceAsync("purge-me")).Should().BeNull();
        (await h.Client.GetHistoryAsync("purge-me")).Should().BeEmpty();
        (await h.Client.PurgeInstanceAsync("purge-me")).PurgedInstanceCount.Should().Be(0);
        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
    }

    /// <summary>Proves purging a running instance is refused with a clear error and leaves it running.</summary>
    [Fact]
    public async Task PurgeInstanceAsync_RunningInstance_ThrowsAndKeepsIt()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("go"));
        string id = await h.StartAsync("Waiter", null, "still-running");
        await h.RunUntilIdleAsync();

        Func<Task> purge = () => h.Client.PurgeInstanceAsync(id);

        (await purge.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should()
            .Contain("still-running").And.Contain("Running").And.Contain("only finished instances can be purged");
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.Client.RaiseEventAsync(id, "go", "fine");
        await h.RunUntilIdleAsync();
        OutputOf<string>(await h.GetAsync(id)).Should().Be("fine");
    }

    /// <summary>Proves purging by filter deletes only finished instances matching status and creation time, never running ones.</summary>
    [Fact]
    public async Task PurgeAllInstancesAsync_Filter_DeletesOnlyMatchingFinishedInstances()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddOrchestratorFunc<int, int>("Quick", (_, x) => Task.FromResult(x))
            .AddOrchestratorFunc<object?, int>("Broken", (_, _) => Task.FromResult(Throw<int>(new InvalidOperationException("broken"))))
            .AddOrchestratorFunc<object?, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("go"));

        // Batch 1 at T0: two completed, one failed, one running.
        await h.RunAsync("Quick", 1, "old-done-1");
        await h.RunAsync("Quick", 2, "old-done-2");
        await h.RunAsync("Broken", null, "old-failed");
        await h.RunAsync("Waiter", null, "old-running");
        await h.AdvanceAsync(TimeSpan.FromHours(1));

        // Batch 2 at T0 + 1 h: one completed.
        await h.RunAsync("Quick", 3, "new-done");

        PurgeResult completedOld = await h.Client.PurgeAllInstancesAsync(
            new PurgeInstancesFilter(CreatedTo: T0.AddMinutes(30), Statuses: [OrchestrationRuntimeStatus.Completed]));
        completedOld.PurgedInstanceCount.Should().Be(2);
        (await h.Client.GetInstanceAsync("old-done-1")).Should().BeNull();
        (await h.Client.GetInstanceAsync("old-failed")).Should().NotBeNull("its status did not match");
        (await h.Client.GetInstanceAsync("new-done")).Should().NotBeNull("it was created after CreatedTo");

        PurgeResult anyOld = await h.Client.PurgeAllInstancesAsync(new PurgeInstancesFilter(CreatedFrom: T0, CreatedTo: T0.AddMinutes(30)));
        anyOld.PurgedInstanceCount.Should().Be(1, "only the failed one is left that is both old and finished");
        (await h.Client.GetInstanceAsync("old-failed")).Should().BeNull();
        (await h.GetAsync("old-running")).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        (await h.GetAsync("new-done")).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
    }

    /// <summary>Proves reusing the id of an unfinished instance throws OrchestrationAlreadyExistsException, and reuse after it finished
    /// starts a fresh execution with only its own history.</summary>
    [Fact]
    public async Task ScheduleNewOrchestrationInstanceAsync_IdReuse_RefusedWhileRunningAllowedAfterCompletion()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<string, string>("Echo", async (ctx, input) => input + ":" + await ctx.WaitForExternalEvent<string>("go"));

        await h.StartAsync("Echo", "first", "reused");
        Func<Task> whilePending = () => h.StartAsync("Echo", "second", "reused");
        (await whilePending.Should().ThrowAsync<OrchestrationAlreadyExistsException>()).Which.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        await h.RunUntilIdleAsync();
        Func<Task> whileRunning = () => h.StartAsync("Echo", "second", "reused");
        (await whileRunning.Should().ThrowAsync<OrchestrationAlreadyExistsException>()).Which.Message.Should().Contain("'reused'").And.Contain("Running");

        await h.Client.RaiseEventAsync("reused", "go", "1");
        await h.RunUntilIdleAsync();
        OrchestrationMetadata first = await h.GetAsync("reused");
        OutputOf<string>(first).Should().Be("first:1");

        await h.StartAsync("Echo", "third", "reused");
        OrchestrationMetadata restarted = await h.GetAsync("reused");
        restarted.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Pending);
        restarted.ExecutionId.Should().NotBe(first.ExecutionId);
        restarted.SerializedOutput.Should().BeNull();
        await h.RunUntilIdleAsync();
        await h.Client.RaiseEventAsync("reused", "go", "2");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync("reused")).Should().Be("third:2");
        IReadOnlyList<HistoryEvent> history = await h.Client.GetHistoryAsync("reused");
        history.OfType<ExecutionStartedEvent>().Should().ContainSingle().Which.Input.Should().Be("\"third\"");
        history.OfType<EventRaisedEvent>().Should().ContainSingle();
    }

    /// <summary>Proves WaitForInstanceStartAsync returns once the instance leaves Pending and WaitForInstanceCompletionAsync once it finishes,
    /// with output included when asked.</summary>
    [Fact]
    public async Task WaitForInstanceStartAndCompletionAsync_ReturnWhenTheStateIsReached()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("go"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        string id = await h.StartAsync("Waiter");
        Task<OrchestrationMetadata> started = h.Client.WaitForInstanceStartAsync(id, cancellationToken: timeout.Token);
        Task<OrchestrationMetadata> completed = h.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        started.IsCompleted.Should().BeFalse("the instance is still Pending");

        await h.RunUntilIdleAsync();
        (await started).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        completed.IsCompleted.Should().BeFalse("the instance is waiting for an event");

        await h.Client.RaiseEventAsync(id, "go", "finished");
        await h.RunUntilIdleAsync();
        OrchestrationMetadata done = await completed;
        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        done.ReadOutputAs<string>().Should().Be("finished");
    }

    /// <summary>Proves waiting for an instance that does not exist throws OrchestrationNotFoundException, and a cancelled wait throws.</summary>
    [Fact]
    public async Task WaitForInstanceCompletionAsync_UnknownOrCancelled_Throws()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("go"));
        string id = await h.StartAsync("Waiter");
        await h.RunUntilIdleAsync();

        Func<Task> unknown = () => h.Client.WaitForInstanceCompletionAsync("nobody-home");
        await unknown.Should().ThrowAsync<OrchestrationNotFoundException>();

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        Func<Task> wait = () => h.Client.WaitForInstanceCompletionAsync(id, cancellationToken: cancelled.Token);
        await wait.Should().ThrowAsync<OperationCanceledException>();
    }

    /// <summary>Proves SetCustomStatus is visible through GetInstanceAsync while running and after completion.</summary>
    [Fact]
    public async Task SetCustomStatus_IsVisibleThroughGetInstanceAsync()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Reporter", async (ctx, _) =>
        {
            ctx.SetCustomStatus(new StageStatus("waiting for approval", 1));
            string answer = await ctx.WaitForExternalEvent<string>("answer");
            ctx.SetCustomStatus(new StageStatus("done", 2));
            return answer;
        });

        string id = await h.StartAsync("Reporter");
        await h.RunUntilIdleAsync();
        (await h.GetAsync(id)).ReadCustomStatusAs<StageStatus>().Should().Be(new StageStatus("waiting for approval", 1));
        (await h.Client.GetInstanceAsync(id, getInputsAndOutputs: false))!.SerializedCustomStatus.Should().BeNull("inputs and outputs were not requested");

        await h.Client.RaiseEventAsync(id, "answer", "yes");
        await h.RunUntilIdleAsync();

        OrchestrationMetadata done = await h.GetAsync(id);
        OutputOf<string>(done).Should().Be("yes");
        done.ReadCustomStatusAs<StageStatus>().Should().Be(new StageStatus("done", 2));
    }

    /// <summary>A custom status value for <see cref="SetCustomStatus_IsVisibleThroughGetInstanceAsync"/>.</summary>
    /// <param name="Stage">What the orchestration is doing.</param>
    /// <param name="Step">A step number.</param>
    public sealed record StageStatus(string Stage, int Step);
}
