using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>External events: buffering, ordering, timeouts and cancelled waiters.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>Proves events raised before the orchestrator waits are buffered per name, in the order they were raised,
    /// and names match case-insensitively.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WaitForExternalEvent_EventsRaisedBeforeWaiting_AreBufferedInOrderPerName(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        h.Registry.AddOrchestratorFunc<object?, string>("LateListener", async (ctx, _) =>
        {
            await ctx.CreateTimer(TimeSpan.FromHours(1));
            string b = await ctx.WaitForExternalEvent<string>("B");
            string a1 = await ctx.WaitForExternalEvent<string>("a");
            string a2 = await ctx.WaitForExternalEvent<string>("A");
            return $"{a1},{a2},{b}";
        });

        string id = await h.StartAsync("LateListener");
        await h.RunUntilIdleAsync();
        await h.Client.RaiseEventAsync(id, "A", "a-first");
        await h.RunUntilIdleAsync();
        await h.Client.RaiseEventAsync(id, "B", "b-only");
        await h.Client.RaiseEventAsync(id, "A", "a-second");
        await h.RunUntilIdleAsync();
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.AdvanceAsync(TimeSpan.FromHours(1));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("a-first,a-second,b-only");
    }

    /// <summary>Proves an event raised while the instance is still Pending (before its first step) is kept for it.</summary>
    [Fact]
    public async Task RaiseEventAsync_BeforeFirstStep_EventIsDeliveredToTheLaterWaiter()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Listener", async (ctx, _) => await ctx.WaitForExternalEvent<string>("hello"));

        string id = await h.StartAsync("Listener");
        await h.Client.RaiseEventAsync(id, "hello", "early bird");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("early bird");
    }

    /// <summary>Proves messages are applied in the order they took effect, not the order they were enqueued: an event
    /// raised at minute 4 beats a timeout timer due at minute 5 (enqueued at minute 0) even when no worker runs until
    /// minute 6 and both are picked up in one step.</summary>
    [Fact]
    public async Task WaitForExternalEvent_EventRaisedBeforeTimeoutButProcessedAfter_EventWins()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("PatientApprover", async (ctx, _) =>
        {
            try
            {
                return await ctx.WaitForExternalEvent<string>("approval", TimeSpan.FromMinutes(5));
            }
            catch (TaskCanceledException)
            {
                return "timed-out";
            }
        });

        string id = await h.StartAsync("PatientApprover");
        await h.RunUntilIdleAsync();
        h.Clock.Advance(TimeSpan.FromMinutes(4));
        await h.Client.RaiseEventAsync(id, "approval", "approved");
        h.Clock.Advance(TimeSpan.FromMinutes(2));
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("approved");
    }

    /// <summary>Proves several waiters on one name are served first come, first served, one event each.</summary>
    [Fact]
    public async Task WaitForExternalEvent_SeveralWaitersOnOneName_EachGetsOneEventInOrder()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("TwoWaiters", async (ctx, _) =>
        {
            Task<string> first = ctx.WaitForExternalEvent<string>("vote");
            Task<string> second = ctx.WaitForExternalEvent<string>("vote");
            return string.Join(",", await Task.WhenAll(first, second));
        });

        string id = await h.StartAsync("TwoWaiters");
        await h.RunUntilIdleAsync();
        await h.Client.RaiseEventAsync(id, "vote", "yes");
        await h.RunUntilIdleAsync();
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.Client.RaiseEventAsync(id, "vote", "no");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("yes,no");
    }

    /// <summary>Proves WaitForExternalEvent with a timeout throws TaskCanceledException when the timeout's durable timer fires first.</summary>
    [Fact]
    public async Task WaitForExternalEvent_Timeout_ThrowsTaskCanceledException()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Approval", async (ctx, _) =>
        {
            try
            {
                return await ctx.WaitForExternalEvent<string>("approval", TimeSpan.FromMinutes(5));
            }
            catch (TaskCanceledException)
            {
                return "timed out";
            }
        });

        string id = await h.StartAsync("Approval");
        await h.AdvanceAsync(TimeSpan.FromMinutes(4));
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.AdvanceAsync(TimeSpan.FromMinutes(1));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("timed out");
    }

    /// <summary>Proves WaitForExternalEvent with a timeout returns the event when it comes in time.</summary>
    [Fact]
    public async Task WaitForExternalEvent_EventBeforeTimeout_ReturnsTheEvent()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Approval", async (ctx, _) =>
            await ctx.WaitForExternalEvent<string>("approval", TimeSpan.FromMinutes(5)));

        string id = await h.StartAsync("Approval");
        await h.AdvanceAsync(TimeSpan.FromMinutes(4));
        await h.Client.RaiseEventAsync(id, "approval", "approved");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("approved");
    }

    /// <summary>Proves a waiter that timed out does not consume a later event with the same name: the next waiter receives it,
    /// both when the executor is cached and when every step replays the whole history.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WaitForExternalEvent_TimedOutWaiter_DoesNotConsumeLaterEvent(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        h.Registry.AddOrchestratorFunc<object?, string>("Patient", async (ctx, _) =>
        {
            string first;
            try
            {
                first = await ctx.WaitForExternalEvent<string>("signal", TimeSpan.FromMinutes(5));
            }
            catch (TaskCanceledException)
            {
                first = "timeout";
            }

            string second = await ctx.WaitForExternalEvent<string>("signal");
            return $"{first}|{second}";
        });

        string id = await h.StartAsync("Patient");
        await h.AdvanceAsync(TimeSpan.FromMinutes(6));
        await h.Client.RaiseEventAsync(id, "signal", "late");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("timeout|late");
    }

    /// <summary>Proves a waiter cancelled through its token does not consume a later event with the same name.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WaitForExternalEvent_CancelledWaiter_DoesNotConsumeLaterEvent(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        h.Registry
            .AddActivityFunc<string, string>("Echo", (_, s) => s)
            .AddOrchestratorFunc<object?, string>("ChangesMind", async (ctx, _) =>
            {
                using var cts = new CancellationTokenSource();
                Task<string> abandoned = ctx.WaitForExternalEvent<string>("signal", cts.Token);
                Task<string> work = ctx.CallActivityAsync<string>("Echo", "work done");
                await Task.WhenAny(abandoned, work);
                cts.Cancel();
                string kept = await ctx.WaitForExternalEvent<string>("signal");
                return $"{abandoned.IsCanceled}|{await work}|{kept}";
            });

        string id = await h.StartAsync("ChangesMind");
        await h.RunUntilIdleAsync();
        await h.Client.RaiseEventAsync(id, "signal", "for the second waiter");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("True|work done|for the second waiter");
    }

    /// <summary>Proves a delivery of the same event twice (same event id, at-least-once transport) is applied once.</summary>
    [Fact]
    public async Task SendMessageAsync_DuplicateEventDelivery_IsAppliedOnce()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Counter", async (ctx, _) =>
        {
            string a = await ctx.WaitForExternalEvent<string>("tick");
            string b = await ctx.WaitForExternalEvent<string>("tick");
            return $"{a},{b}";
        });

        string id = await h.StartAsync("Counter");
        await h.RunUntilIdleAsync();
        var tick = new OrchestrationMessage(id, null, new EventRaisedEvent("tick", "\"one\"", "event-1") { Timestamp = h.Now });
        await h.Store.SendMessageAsync(tick);
        await h.Store.SendMessageAsync(tick);
        await h.RunUntilIdleAsync();
        await h.Store.SendMessageAsync(tick);
        await h.RunUntilIdleAsync();
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running, "the duplicates must not count as the second tick");

        await h.Client.RaiseEventAsync(id, "tick", "two");
        await h.RunUntilIdleAsync();
        OutputOf<string>(await h.GetAsync(id)).Should().Be("one,two");
        (await HistoryOfAsync<EventRaisedEvent>(h, id)).Should().HaveCount(2);
    }

    /// <summary>Proves raising an event for an instance that does not exist throws OrchestrationNotFoundException.</summary>
    [Fact]
    public async Task RaiseEventAsync_UnknownInstance_ThrowsOrchestrationNotFound()
    {
        EngineHarness h = await this.CreateHarnessAsync();

        Func<Task> raise = () => h.Client.RaiseEventAsync("no-such-instance", "ping");

        (await raise.Should().ThrowAsync<OrchestrationNotFoundException>()).Which.Message.Should().Contain("no-such-instance");
    }
}
