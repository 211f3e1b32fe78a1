using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Durable.Sqlite.Tests;

/// <summary>Store-level behaviour that only a real database file shows.</summary>
public sealed class SqliteStoreTests : IDisposable
{
    private readonly SqliteStoreFixture fixture = new();

    public void Dispose() => this.fixture.Dispose();

    [Fact]
    public async Task InitializeAsync_CalledTwiceAndFromSecondStore_KeepsDataAndOneVersionRow()
    {
        var store = this.fixture.OpenStore();
        await store.InitializeAsync();
        await store.CreateInstanceAsync(Start("a"));

        await store.InitializeAsync();
        var second = this.fixture.OpenStore();
        await second.InitializeAsync();

        (await second.GetInstanceAsync("a")).Should().NotBeNull();
        using var connection = new SqliteConnection($"Data Source={this.fixture.DatabasePath}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), MAX(version) FROM kc_schema; ";
        using var reader = command.ExecuteReader();
        reader.Read();
        reader.GetInt64(0).Should().Be(1);
        reader.GetInt64(1).Should().Be(1);
        using var mode = connection.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode;";
        reader.Close();
        ((string)mode.ExecuteScalar()!).Should().Be("wal");
    }

    [Fact]
    public async Task InitializeAsync_NewerSchemaVersion_ThrowsNamingBothVersions()
    {
        await this.fixture.OpenStore().InitializeAsync();
        using (var connection = new SqliteConnection($"Data Source={this.fixture.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE kc_schema SET version = 99;";
            command.ExecuteNonQuery();
        }

        Func<Task> act = () => this.fixture.OpenStore().InitializeAsync();

        await act.Should().ThrowAsync<InvalidOperationException>().WithMessage("*schema version 99; this build reads version 1*");
    }

    [Fact]
    public void Constructor_InvalidOptions_ReportsAllErrorsTogether()
    {
        Action act = () => _ = new SqliteOrchestrationStore(new SqliteStoreOptions { DatabasePath = " ", BusyTimeout = TimeSpan.Zero });

        act.Should().Throw<ArgumentException>()
            .WithMessage("Invalid SqliteStoreOptions: The value for DatabasePath must be a file path; it is empty. The value for BusyTimeout must be greater than zero*");
    }

    [Fact]
    public async Task AddDurableTaskSqliteStore_ResolvesStoreOnTheRegisteredClock()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(this.fixture.Clock);
        services.AddDurableTaskSqliteStore(o => o.DatabasePath = this.fixture.DatabasePath);
        using ServiceProvider provider = services.BuildServiceProvider();

        var store = provider.GetRequiredService<IOrchestrationStore>();

        store.Should().BeOfType<SqliteOrchestrationStore>().Which.DatabasePath.Should().Be(this.fixture.DatabasePath);
        await store.CreateInstanceAsync(Start("clocked"));
        (await store.GetInstanceAsync("clocked"))!.CreatedAt.Should().Be(this.fixture.Clock.GetUtcNow().UtcDateTime);
    }

    [Fact]
    public void AddDurableTaskSqliteStore_InvalidOptions_FailsWhenResolved()
    {
        var services = new ServiceCollection();
        services.AddDurableTaskSqliteStore(o => o.DatabasePath = ":memory:");
        using ServiceProvider provider = services.BuildServiceProvider();

        Action act = () => provider.GetRequiredService<IOrchestrationStore>();

        act.Should().Throw<Exception>().Where(e => e.Message.Contains("AddDurableTaskInMemoryStore", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TryLockNextOrchestration_ConcurrentWorkersOnSeparateConnections_NeverShareAnInstance()
    {
        const int instanceCount = 60;
        var setup = this.fixture.OpenStore();
        for (int i = 0; i < instanceCount; i++)
        {
            await setup.CreateInstanceAsync(Start($"i{i:D3}"));
        }

        // Six stores on one file act as six processes; each has two threads locking through its own gate.
        var stores = Enumerable.Range(0, 6).Select(_ => this.fixture.OpenStore()).ToList();
        using var go = new ManualResetEventSlim();
        var threads = stores.SelectMany(s => new[] { s, s }).Select(s => Task.Factory.StartNew(
            () =>
            {
                go.Wait();
                var mine = new List<string>();
                while (s.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(5)).GetAwaiter().GetResult() is { } item)
                {
                    mine.Add(item.InstanceId);
                }

                return mine;
            },
            TaskCreationOptions.LongRunning)).ToList();
        go.Set();
        List<string>[] results = await Task.WhenAll(threads);

        var all = results.SelectMany(r => r).ToList();
        all.Should().HaveCount(instanceCount).And.OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task CompleteOrchestration_LockLostToAnotherWorker_ThrowsAndChangesNothing()
    {
        var store = this.fixture.OpenStore();
        await store.CreateInstanceAsync(Start("x"));
        var first = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        this.fixture.Clock.Advance(TimeSpan.FromMinutes(1));
        var second = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        second.InstanceId.Should().Be("x");
        second.DeliveryCount.Should().Be(2);

        Func<Task> stale = () => store.CompleteOrchestrationAsync(first, StepCommit(first, OrchestrationRuntimeStatus.Completed, activity: true, message: Start("child")));

        await stale.Should().ThrowAsync<StoreConcurrencyException>().WithMessage("*'x'*lost*");
        (await store.GetInstanceAsync("x"))!.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        (await store.GetHistoryAsync("x")).Should().BeEmpty();
        (await store.GetInstanceAsync("child")).Should().BeNull();
        (await store.TryLockNextActivityAsync(TimeSpan.FromSeconds(30))).Should().BeNull();

        // The current holder still commits, consuming the start message.
        await store.CompleteOrchestrationAsync(second, StepCommit(second, OrchestrationRuntimeStatus.Running, activity: true, message: null));
        (await store.GetHistoryAsync("x")).Should().HaveCount(2);
        (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30))).Should().BeNull();
        (await store.TryLockNextActivityAsync(TimeSpan.FromSeconds(30)))!.Request.Name.Should().Be("A");
    }

    [Fact]
    public async Task CompleteOrchestration_MessageArrivedDuringStep_StaysInInbox()
    {
        var store = this.fixture.OpenStore();
        await store.CreateInstanceAsync(Start("x"));
        var item = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        await store.SendMessageAsync(new OrchestrationMessage("x", null, new EventRaisedEvent("late", "1", "e1")));
        (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30))).Should().BeNull("the instance is locked");

        await store.CompleteOrchestrationAsync(item, StepCommit(item, OrchestrationRuntimeStatus.Running, activity: false, message: null));

        var next = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        next.Messages.Should().ContainSingle().Which.Event.Should().BeOfType<EventRaisedEvent>().Which.Name.Should().Be("late");
        next.DeliveryCount.Should().Be(1);
    }

    [Fact]
    public async Task CompleteActivity_LockLost_ReturnsFalseAndDeliversNothing()
    {
        var store = this.fixture.OpenStore();
        await store.CreateInstanceAsync(Start("x"));
        var item = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        await store.CompleteOrchestrationAsync(item, StepCommit(item, OrchestrationRuntimeStatus.Running, activity: true, message: null));
        var first = (await store.TryLockNextActivityAsync(TimeSpan.FromSeconds(30)))!;
        this.fixture.Clock.Advance(TimeSpan.FromMinutes(1));
        var second = (await store.TryLockNextActivityAsync(TimeSpan.FromSeconds(30)))!;
        second.DeliveryCount.Should().Be(2);
        (await store.RenewActivityLockAsync(first, TimeSpan.FromSeconds(30))).Should().BeFalse();

        bool stale = await store.CompleteActivityAsync(first, new OrchestrationMessage("x", "e1", new TaskCompletedEvent(0, "\"stale\"")));

        stale.Should().BeFalse();
        (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30))).Should().BeNull();
        (await store.CompleteActivityAsync(second, new OrchestrationMessage("x", "e1", new TaskCompletedEvent(0, "\"fresh\"")))).Should().BeTrue();
        var result = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        result.Messages.Should().ContainSingle().Which.Event.Should().BeOfType<TaskCompletedEvent>().Which.Result.Should().Be("\"fresh\"");
    }

    [Fact]
    public async Task GetNextWakeUpTime_TimerAndLock_ReportsEarliest()
    {
        var store = this.fixture.OpenStore();
        DateTime now = this.fixture.Clock.GetUtcNow().UtcDateTime;
        await store.CreateInstanceAsync(Start("x") with { VisibleAt = now.AddMinutes(10) });
        (await store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(now.AddMinutes(10));
        (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30))).Should().BeNull("the start is scheduled for later");

        this.fixture.Clock.Advance(TimeSpan.FromMinutes(10));
        var item = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        await store.SendMessageAsync(new OrchestrationMessage("x", null, new EventRaisedEvent("e", null, "1")));

        (await store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(now.AddMinutes(10).AddSeconds(30));
        await store.AbandonOrchestrationAsync(item, TimeSpan.FromSeconds(5));
        (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30))).Should().BeNull("an abandon with a delay holds the whole instance back, so the event cannot overtake the start");
        (await store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(this.fixture.Clock.GetUtcNow().UtcDateTime.AddSeconds(5));

        this.fixture.Clock.Advance(TimeSpan.FromSeconds(5));
        var again = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        again.Messages.Select(m => m.Event.GetType()).Should().Equal(new[] { typeof(ExecutionStartedEvent), typeof(EventRaisedEvent) }, "the released start keeps its place before the later event");
    }

    [Fact]
    public async Task QueryAndPurge_PagesInCreationOrderAndPurgesOnlyFinished()
    {
        var store = this.fixture.OpenStore();
        foreach (string id in new[] { "b", "a", "c" })
        {
            await store.CreateInstanceAsync(Start(id));
        }

        this.fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        await store.CreateInstanceAsync(Start("0-later"));
        var item = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        await store.CompleteOrchestrationAsync(item, StepCommit(item, OrchestrationRuntimeStatus.Completed, activity: false, message: null));

        var first = await store.QueryInstancesAsync(new InstanceQuery { PageSize = 2 });
        var second = await store.QueryInstancesAsync(new InstanceQuery { PageSize = 2, ContinuationToken = first.ContinuationToken });

        first.Instances.Select(i => i.InstanceId).Should().Equal("a", "b");
        second.Instances.Select(i => i.InstanceId).Should().Equal("c", "0-later");
        second.ContinuationToken.Should().BeNull();
        (await store.QueryInstancesAsync(new InstanceQuery { Statuses = [OrchestrationRuntimeStatus.Completed] })).Instances.Should().ContainSingle().Which.InstanceId.Should().Be(item.InstanceId);
        (await store.QueryInstancesAsync(new InstanceQuery { NamePrefix = "TE" })).Instances.Should().HaveCount(4);
        await store.Invoking(s => s.PurgeInstanceAsync("c")).Should().ThrowAsync<InvalidOperationException>().WithMessage("*only finished instances can be purged*");
        (await store.PurgeInstancesAsync(new PurgeInstancesFilter())).Should().Be(1);
        (await store.GetInstanceAsync(item.InstanceId)).Should().BeNull();
        (await store.GetHistoryAsync(item.InstanceId)).Should().BeEmpty();
    }

    [Fact]
    public async Task CompleteOrchestration_RoutesStartsRejectionsAndDropsMessagesForMissingInstances()
    {
        var store = this.fixture.OpenStore();
        await store.CreateInstanceAsync(Start("busy"));
        await store.CreateInstanceAsync(Start("parent"));
        var busy = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        await store.CompleteOrchestrationAsync(busy, StepCommit(busy, OrchestrationRuntimeStatus.Running, activity: false, message: null));
        var parent = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)))!;
        parent.InstanceId.Should().Be("parent");
        var info = new ParentInstanceInfo("parent", "e1", 7, "Parent");
        OrchestrationMessage SubStart(string id) => new(id, "x-" + id, new ExecutionStartedEvent("Child", null, "x-" + id) { Parent = info });

        var plain = StepCommit(parent, OrchestrationRuntimeStatus.Running, activity: false, message: null);
        await store.CompleteOrchestrationAsync(parent, new OrchestrationStepCommit
        {
            Instance = plain.Instance,
            NewEvents = plain.NewEvents,
            Activities = [],
            Messages =
            [
                SubStart("busy"),
                SubStart("fresh"),
                new OrchestrationMessage("ghost", null, new EventRaisedEvent("e", null, "1")),
            ],
        });

        (await store.GetInstanceAsync("fresh"))!.ParentInstanceId.Should().Be("parent");
        (await store.GetInstanceAsync("busy"))!.ExecutionId.Should().Be("e1", "a running instance is not replaced");
        (await store.GetInstanceAsync("ghost")).Should().BeNull();
        var items = new List<OrchestrationWorkItem>();
        while (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(30)) is { } next)
        {
            items.Add(next);
        }

        items.Select(i => i.InstanceId).Should().BeEquivalentTo("parent", "fresh");
        var failed = items.Single(i => i.InstanceId == "parent").Messages.Should().ContainSingle().Which.Event.Should().BeOfType<SubOrchestrationFailedEvent>().Subject;
        failed.TaskScheduledId.Should().Be(7);
        failed.FailureDetails.ErrorType.Should().Be(typeof(OrchestrationAlreadyExistsException).FullName);
    }

    private static OrchestrationMessage Start(string id) =>
        new(id, "e1", new ExecutionStartedEvent("Test", "1", "e1"));

    private static OrchestrationStepCommit StepCommit(OrchestrationWorkItem item, OrchestrationRuntimeStatus status, bool activity, OrchestrationMessage? message) => new()
    {
        Instance = item.Instance with { Status = status, HistoryCount = item.Instance.HistoryCount + 2 },
        NewEvents = [new OrchestratorStartedEvent(), item.Messages[0].Event],
        Activities = activity ? [new ActivityRequest(item.InstanceId, item.Instance.ExecutionId, 0, "A", null)] : [],
        Messages = message is null ? [] : [message],
    };
}
