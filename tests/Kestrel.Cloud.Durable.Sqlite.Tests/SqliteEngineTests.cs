namespace Kestrel.Cloud.Durable.Sqlite.Tests;

/// <summary>Orchestrations run end to end on the engine over the SQLite store, driven step by step on a manual clock.</summary>
public sealed class SqliteEngineTests : IDisposable
{
    private readonly SqliteStoreFixture fixture = new();

    public void Dispose() => this.fixture.Dispose();

    [Fact]
    public async Task Orchestration_ChainFanOutTimerAndEvent_CompletesWithExpectedOutput()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Double", (_, x) => x * 2)
            .AddOrchestratorFunc<int, string>("Main", async (ctx, n) =>
            {
                int a = await ctx.CallActivityAsync<int>("Double", n);
                int b = await ctx.CallActivityAsync<int>("Double", a);
                int[] fan = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => ctx.CallActivityAsync<int>("Double", i)));
                await ctx.CreateTimer(TimeSpan.FromMinutes(5));
                string ev = await ctx.WaitForExternalEvent<string>("go");
                return $"{b}:{fan.Sum()}:{ev}";
            });
        var store = this.fixture.OpenStore();
        var worker = this.fixture.Worker(store, registry);
        var client = this.fixture.Client(store, registry);

        string id = await client.ScheduleNewOrchestrationInstanceAsync("Main", 5);
        await SqliteStoreFixture.RunUntilIdle(worker);
        (await client.GetInstanceAsync(id))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await client.RaiseEventAsync(id, "go", "yes"); // buffered until the orchestrator waits for it
        await SqliteStoreFixture.RunUntilIdle(worker);
        (await client.GetInstanceAsync(id))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running, "the timer has not fired");

        this.fixture.Clock.Advance(TimeSpan.FromMinutes(5));
        await SqliteStoreFixture.RunUntilIdle(worker);

        var meta = (await client.GetInstanceAsync(id, getInputsAndOutputs: true))!;
        meta.FailureDetails.Should().BeNull();
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<string>().Should().Be("20:90:yes");
    }

    [Fact]
    public async Task Orchestration_SubOrchestrationsAndFailure_ParentSeesResultsAndError()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<string, string>("Fail", (_, m) => Task.FromException<string>(new InvalidOperationException(m)))
            .AddOrchestratorFunc<int, int>("Child", async (ctx, n) =>
            {
                if (n < 0)
                {
                    await ctx.CallActivityAsync<string>("Fail", "negative");
                }

                return n * n;
            })
            .AddOrchestratorFunc<int, string>("Parent", async (ctx, n) =>
            {
                int[] squares = await Task.WhenAll(Enumerable.Range(1, n).Select(i => ctx.CallSubOrchestratorAsync<int>("Child", i)));
                try
                {
                    await ctx.CallSubOrchestratorAsync<int>("Child", -1);
                    return "no error";
                }
                catch (TaskFailedException ex)
                {
                    return $"{squares.Sum()}|{ex.FailureDetails.IsCausedBy<InvalidOperationException>()}";
                }
            });
        var store = this.fixture.OpenStore();
        var worker = this.fixture.Worker(store, registry);
        var client = this.fixture.Client(store, registry);

        string id = await client.ScheduleNewOrchestrationInstanceAsync("Parent", 4);
        await SqliteStoreFixture.RunUntilIdle(worker);

        var meta = (await client.GetInstanceAsync(id, getInputsAndOutputs: true))!;
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<string>().Should().Be("30|True");
        var children = await store.QueryInstancesAsync(new Storage.InstanceQuery { NamePrefix = "Child" });
        children.Instances.Should().HaveCount(5).And.OnlyContain(c => c.ParentInstanceId == id);
    }

    [Fact]
    public async Task Orchestration_ContinueAsNewWithTimers_RestartsWithFreshHistoryUntilDone()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Inc", (_, x) => x + 1)
            .AddOrchestratorFunc<int, int>("Counter", async (ctx, n) =>
            {
                if (n >= 3)
                {
                    return n;
                }

                await ctx.CreateTimer(TimeSpan.FromHours(1));
                int next = await ctx.CallActivityAsync<int>("Inc", n);
                ctx.ContinueAsNew(next);
                return -1;
            });
        var store = this.fixture.OpenStore();
        var worker = this.fixture.Worker(store, registry);
        var client = this.fixture.Client(store, registry);
        string id = await client.ScheduleNewOrchestrationInstanceAsync("Counter", 0);

        var executions = new HashSet<string>();
        for (int hour = 0; hour < 4; hour++)
        {
            await SqliteStoreFixture.RunUntilIdle(worker);
            executions.Add((await store.GetInstanceAsync(id))!.ExecutionId);
            this.fixture.Clock.Advance(TimeSpan.FromHours(1));
        }

        var meta = (await client.GetInstanceAsync(id, getInputsAndOutputs: true))!;
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<int>().Should().Be(3);
        executions.Should().HaveCount(4);
        var history = await store.GetHistoryAsync(id);
        history.OfType<History.ExecutionStartedEvent>().Should().ContainSingle().Which.Input.Should().Be("3");
        (await store.GetInstanceAsync(id))!.HistoryCount.Should().Be(history.Count);
    }

    [Fact]
    public async Task DurableTimer_DueWhileStoreClosed_FiresAfterReopen()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<string, string>("Echo", (_, s) => s)
            .AddOrchestratorFunc<string, string>("Sleeper", async (ctx, s) =>
            {
                string before = await ctx.CallActivityAsync<string>("Echo", s);
                await ctx.CreateTimer(TimeSpan.FromDays(2));
                string after = await ctx.CallActivityAsync<string>("Echo", "after");
                return $"{before}-{after}";
            });
        string id;
        using (var first = new SqliteOrchestrationStore(new SqliteStoreOptions { DatabasePath = this.fixture.DatabasePath }, this.fixture.Clock))
        {
            id = await this.fixture.Client(first, registry).ScheduleNewOrchestrationInstanceAsync("Sleeper", "before");
            await SqliteStoreFixture.RunUntilIdle(this.fixture.Worker(first, registry));
            (await first.GetInstanceAsync(id))!.Status.Should().Be(OrchestrationRuntimeStatus.Running);
        }

        // Nothing runs while the clock passes the timer's due time.
        this.fixture.Clock.Advance(TimeSpan.FromDays(3));
        var reopened = this.fixture.OpenStore();
        await reopened.InitializeAsync();
        DateTime? wakeUp = await reopened.GetNextWakeUpTimeAsync(Storage.WorkItemKind.Orchestration);
        wakeUp.Should().NotBeNull().And.BeOnOrBefore(this.fixture.Clock.GetUtcNow().UtcDateTime, "the timer is already due, so an idle worker must not sleep");
        await SqliteStoreFixture.RunUntilIdle(this.fixture.Worker(reopened, registry));

        var meta = (await this.fixture.Client(reopened, registry).GetInstanceAsync(id, getInputsAndOutputs: true))!;
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<string>().Should().Be("before-after");
    }
}
