using System.Collections.Concurrent;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Testing;
using Kestrel.Cloud.Testing.Azurite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.AzureStorage.Tests;

/// <summary>Orchestrations end to end on Azurite, driven by the engine's worker.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class OrchestrationTests
{
    private readonly AzuriteFixture azurite;

    public OrchestrationTests(AzuriteFixture azurite) => this.azurite = azurite;

    [Fact]
    public async Task Activities_Sequence_CompletesWithOutputAndRunsEachActivityOnce()
    {
        var runs = new ConcurrentDictionary<int, int>();
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Add1", (_, x) =>
            {
                runs.AddOrUpdate(x, 1, (_, n) => n + 1);
                return x + 1;
            })
            .AddOrchestratorFunc<int, int>("Chain", async (ctx, x) =>
            {
                for (int i = 0; i < 5; i++)
                {
                    x = await ctx.CallActivityAsync<int>("Add1", x);
                }

                return x;
            });
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Chain", 10);
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);

        meta.FailureDetails.Should().BeNull();
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<int>().Should().Be(15);
        runs.Should().HaveCount(5).And.OnlyContain(kv => kv.Value == 1);
        var history = await h.Client.GetHistoryAsync(id);
        history.OfType<History.TaskCompletedEvent>().Should().HaveCount(5);
        (await h.Store.GetInstanceAsync(id))!.HistoryCount.Should().Be(history.Count);
    }

    [Fact]
    public async Task EngineSmokeScenario_ManualClockTestMode_RunsDeterministicallyLikeTheInMemoryStore()
    {
        // The engine's smoke test (tests/Kestrel.Cloud.Durable.Tests/SmokeTests.cs), unchanged but for the store:
        // with MaxWakeUpDelay zero the manual clock alone decides when the timer fires.
        var clock = new ManualTimeProvider();
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Double", (_, x) => x * 2)
            .AddOrchestratorFunc<int, string>("Main", async (ctx, n) =>
            {
                int a = await ctx.CallActivityAsync<int>("Double", n);
                int[] fan = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => ctx.CallActivityAsync<int>("Double", i)));
                await ctx.CreateTimer(TimeSpan.FromMinutes(5));
                string ev = await ctx.WaitForExternalEvent<string>("go");
                return $"{a}:{fan.Sum()}:{ev}";
            });
        Harness h = await Harness.CreateAsync(this.azurite, registry, clock, o => o.MaxWakeUpDelay = TimeSpan.Zero);

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Main", 21);
        await h.RunUntilIdleAsync();
        (await h.Client.GetInstanceAsync(id))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);

        clock.Advance(TimeSpan.FromMinutes(5));
        await h.Client.RaiseEventAsync(id, "go", "yes");
        await h.RunUntilIdleAsync();

        OrchestrationMetadata meta = (await h.Client.GetInstanceAsync(id, getInputsAndOutputs: true))!;
        meta.FailureDetails.Should().BeNull();
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<string>().Should().Be("42:20:yes");
    }

    [Fact]
    public async Task FanOut_TwentyActivities_SumsEveryResultOnce()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Square", (_, x) => x * x)
            .AddOrchestratorFunc<int, int>("Fan", async (ctx, n) =>
            {
                int[] results = await Task.WhenAll(Enumerable.Range(1, n).Select(i => ctx.CallActivityAsync<int>("Square", i)));
                return results.Sum();
            });
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Fan", 20);
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);

        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<int>().Should().Be(Enumerable.Range(1, 20).Sum(i => i * i));
    }

    [Fact]
    public async Task Timer_ShortDurableTimer_FiresAfterItsDueTime()
    {
        // Real clock: queue visibility delays run on the emulator's clock, so a durable timer needs real time.
        var registry = new DurableTaskRegistry()
            .AddOrchestratorFunc<int, string>("Sleeper", async (ctx, seconds) =>
            {
                DateTime start = ctx.CurrentUtcDateTime;
                await ctx.CreateTimer(TimeSpan.FromSeconds(seconds));
                return (ctx.CurrentUtcDateTime - start).TotalSeconds >= seconds ? "late-enough" : "too-early";
            });
        Harness h = await Harness.CreateAsync(this.azurite, registry, TimeProvider.System);

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Sleeper", 2);
        await h.RunUntilIdleAsync();
        (await h.Client.GetInstanceAsync(id))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);

        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id, TimeSpan.FromSeconds(30));

        meta.ReadOutputAs<string>().Should().Be("late-enough");
        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().BeNull("the timer's wake-up has passed");
    }

    [Fact]
    public async Task Timer_LongerThanMaxWakeUpDelay_IsRescheduledInStepsAndFires()
    {
        // MaxWakeUpDelay stands in for the queue's 7-day limit: a 3-second timer with 1-second steps must be
        // re-sent twice before it fires. Real clock, bounded by the drive deadline.
        var registry = new DurableTaskRegistry()
            .AddOrchestratorFunc<int, int>("LongSleep", async (ctx, seconds) =>
            {
                await ctx.CreateTimer(TimeSpan.FromSeconds(seconds));
                return seconds;
            });
        Harness h = await Harness.CreateAsync(this.azurite, registry, TimeProvider.System, o => o.MaxWakeUpDelay = TimeSpan.FromSeconds(1));
        DateTime started = DateTime.UtcNow;

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("LongSleep", 3);
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id, TimeSpan.FromSeconds(30));

        meta.ReadOutputAs<int>().Should().Be(3);
        var history = await h.Client.GetHistoryAsync(id);
        var fired = history.OfType<History.TimerFiredEvent>().Single();
        history.OfType<History.OrchestratorStartedEvent>().Last().Timestamp.Should().BeOnOrAfter(fired.FireAt);
        meta.LastUpdatedAt.UtcDateTime.Should().BeOnOrAfter(started.AddSeconds(3));
    }

    [Fact]
    public async Task ExternalEvents_RaisedBeforeAndAfterWaiting_AreDeliveredInOrder()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<string, string>("Echo", (_, s) => s)
            .AddOrchestratorFunc<string, string>("Waiter", async (ctx, _) =>
            {
                string a = await ctx.WaitForExternalEvent<string>("go");
                string b = await ctx.WaitForExternalEvent<string>("go");
                string c = await ctx.CallActivityAsync<string>("Echo", "!");
                return a + b + c;
            });
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Waiter", "x");
        await h.Client.RaiseEventAsync(id, "go", "first");
        await h.RunUntilIdleAsync();
        (await h.Client.GetInstanceAsync(id))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.Client.RaiseEventAsync(id, "go", "-second");
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);

        meta.ReadOutputAs<string>().Should().Be("first-second!");
    }

    [Fact]
    public async Task SubOrchestrations_ResultsAndFailures_ReachTheParent()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Twice", (_, x) => x * 2)
            .AddOrchestratorFunc<int, int>("Child", async (ctx, x) =>
            {
                if (x < 0)
                {
                    throw new InvalidOperationException("negative input " + x);
                }

                return await ctx.CallActivityAsync<int>("Twice", x);
            })
            .AddOrchestratorFunc<int, string>("Parent", async (ctx, n) =>
            {
                int[] ok = await Task.WhenAll(Enumerable.Range(1, n).Select(i => ctx.CallSubOrchestratorAsync<int>("Child", i)));
                try
                {
                    await ctx.CallSubOrchestratorAsync<int>("Child", -1, new SubOrchestrationOptions(instanceId: ctx.InstanceId + "-bad"));
                    return "no failure";
                }
                catch (TaskFailedException ex)
                {
                    return $"{ok.Sum()}|{ex.FailureDetails.ErrorMessage}";
                }
            });
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Parent", 3);
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);

        meta.FailureDetails.Should().BeNull();
        meta.ReadOutputAs<string>().Should().StartWith("12|").And.Contain("negative input -1");
        (await h.Client.GetInstanceAsync(id + "-bad"))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        (await h.Client.GetInstanceAsync(id + "-bad"))!.ParentInstanceId.Should().Be(id);
    }

    [Fact]
    public async Task ContinueAsNew_CountsDown_ReplacesHistoryEachTime()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Dec", (_, x) => x - 1)
            .AddOrchestratorFunc<int, int>("Loop", async (ctx, x) =>
            {
                if (x == 0)
                {
                    return 0;
                }

                int next = await ctx.CallActivityAsync<int>("Dec", x);
                ctx.ContinueAsNew(next);
                return -1;
            });
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Loop", 4);
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);

        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<int>().Should().Be(0);
        var history = await h.Client.GetHistoryAsync(id);
        history.OfType<History.TaskScheduledEvent>().Should().BeEmpty("the last execution ran no activity");
        var doc = await h.Store.ReadDocumentForTestsAsync(id);
        doc!.History.Should().ContainSingle("the segments of earlier executions are no longer referenced");
    }

    [Fact]
    public async Task TerminateAndSuspend_ClientControls_TakeEffect()
    {
        var registry = new DurableTaskRegistry()
            .AddOrchestratorFunc<int, int>("Forever", async (ctx, _) => await ctx.WaitForExternalEvent<int>("never"))
            .AddOrchestratorFunc<int, int>("Pausable", async (ctx, _) => await ctx.WaitForExternalEvent<int>("value"));
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());

        string forever = await h.Client.ScheduleNewOrchestrationInstanceAsync("Forever", 0);
        string pausable = await h.Client.ScheduleNewOrchestrationInstanceAsync("Pausable", 0);
        await h.RunUntilIdleAsync();
        await h.Client.TerminateInstanceAsync(forever, "stop");
        await h.Client.SuspendInstanceAsync(pausable);
        await h.Client.RaiseEventAsync(pausable, "value", 7);
        await h.RunUntilIdleAsync();

        (await h.Client.GetInstanceAsync(forever))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Terminated);
        (await h.Client.GetInstanceAsync(pausable))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Suspended);

        await h.Client.ResumeInstanceAsync(pausable);
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(pausable);
        meta.ReadOutputAs<int>().Should().Be(7);
    }

    [Fact]
    public async Task TwoWorkers_SharedTaskHub_EveryOrchestrationCompletesOnceWithCorrectOutput()
    {
        // Two stores and dispatchers on one task hub stand for two processes competing for the same queues.
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Cube", (_, x) => x * x * x)
            .AddOrchestratorFunc<int, int>("Leaf", (ctx, x) => ctx.CallActivityAsync<int>("Cube", x))
            .AddOrchestratorFunc<int, int>("Root", async (ctx, n) =>
            {
                int[] cubes = await Task.WhenAll(Enumerable.Range(1, 5).Select(i => ctx.CallActivityAsync<int>("Cube", n + i)));
                int leaf = await ctx.CallSubOrchestratorAsync<int>("Leaf", n);
                return cubes.Sum() + leaf;
            });
        string hub = Harness.NewTaskHubName();
        IOptions<DurableTaskOptions> options = Options.Create(new DurableTaskOptions { MaxConcurrentActivityWorkItems = 8, MaxConcurrentOrchestrationWorkItems = 8 });
        var services = new List<DurableTaskWorkerService>();
        DurableTaskClient? client = null;
        for (int w = 0; w < 2; w++)
        {
            var store = new AzureStorageOrchestrationStore(Harness.Options(this.azurite, hub));
            await store.InitializeAsync();
            var worker = new DurableTaskWorker(store, registry, new ServiceCollection().BuildServiceProvider(), options);
            client ??= new DurableTaskClient(store, options, registry: registry);
            services.Add(new DurableTaskWorkerService(worker));
        }

        foreach (DurableTaskWorkerService service in services)
        {
            await service.StartAsync(CancellationToken.None);
        }

        try
        {
            const int Count = 30;
            string[] ids = await Task.WhenAll(Enumerable.Range(0, Count).Select(i => client!.ScheduleNewOrchestrationInstanceAsync("Root", i)));

            // Bounded wait: the dispatchers run in real time against the emulator.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            OrchestrationMetadata[] done = await Task.WhenAll(ids.Select(id => client!.WaitForInstanceCompletionAsync(id, true, deadline.Token)));

            int Expected(int n) => Enumerable.Range(1, 5).Sum(i => (n + i) * (n + i) * (n + i)) + (n * n * n);
            done.Select(m => m.RuntimeStatus).Should().OnlyContain(s => s == OrchestrationRuntimeStatus.Completed);
            done.Select(m => m.ReadOutputAs<int>()).Should().Equal(Enumerable.Range(0, Count).Select(Expected));
            foreach (string id in ids)
            {
                (await client!.GetHistoryAsync(id)).OfType<History.ExecutionCompletedEvent>().Should().ContainSingle();
            }
        }
        finally
        {
            foreach (DurableTaskWorkerService service in services)
            {
                await service.StopAsync(CancellationToken.None);
                service.Dispose();
            }
        }
    }

    [Fact]
    public async Task Dispatcher_HostedService_CompletesOrchestrationsWithoutPolling()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Inc", (_, x) => x + 1)
            .AddOrchestratorFunc<int, int>("Three", async (ctx, x) =>
            {
                x = await ctx.CallActivityAsync<int>("Inc", x);
                int[] more = await Task.WhenAll(ctx.CallActivityAsync<int>("Inc", x), ctx.CallActivityAsync<int>("Inc", x));
                return more.Sum();
            });
        var store = new AzureStorageOrchestrationStore(Harness.Options(this.azurite));
        await store.InitializeAsync();
        IOptions<DurableTaskOptions> options = Options.Create(new DurableTaskOptions { MaxConcurrentActivityWorkItems = 4, MaxConcurrentOrchestrationWorkItems = 4 });
        var worker = new DurableTaskWorker(store, registry, new ServiceCollection().BuildServiceProvider(), options);
        var client = new DurableTaskClient(store, options, registry: registry);
        using var service = new DurableTaskWorkerService(worker);
        await service.StartAsync(CancellationToken.None);
        try
        {
            string[] ids = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => client.ScheduleNewOrchestrationInstanceAsync("Three", i)));

            // Bounded wait: the dispatcher runs in real time against the emulator.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            OrchestrationMetadata[] done = await Task.WhenAll(ids.Select(id => client.WaitForInstanceCompletionAsync(id, true, deadline.Token)));

            done.Select(m => m.ReadOutputAs<int>()).Should().Equal(Enumerable.Range(0, 5).Select(i => 2 * (i + 2)));
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }
}
