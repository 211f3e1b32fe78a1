using System.Diagnostics;
using System.Text.Json;
using Azure.Storage.Queues.Models;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Testing;
using Kestrel.Cloud.Testing.Azurite;

namespace Kestrel.Cloud.Durable.AzureStorage.Tests;

/// <summary>The store's contract on Azurite: the in-memory store's semantics plus what is specific to queues and blobs.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class StoreContractTests
{
    private static readonly TimeSpan LockDuration = TimeSpan.FromSeconds(30);
    private readonly AzuriteFixture azurite;

    public StoreContractTests(AzuriteFixture azurite) => this.azurite = azurite;

    [Fact]
    public async Task CreateInstance_UnfinishedExists_ThrowsAlreadyExists()
    {
        var clock = new ManualTimeProvider();
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(clock);
        await store.CreateInstanceAsync(Start("a", "Orch", "1"));

        Func<Task> again = () => store.CreateInstanceAsync(Start("a", "Orch", "2"));

        (await again.Should().ThrowAsync<OrchestrationAlreadyExistsException>()).Which.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        InstanceRecord record = (await store.GetInstanceAsync("a"))!;
        record.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        record.Input.Should().Be("1");
        record.CreatedAt.Should().Be(clock.GetUtcNow().UtcDateTime);
    }

    [Fact]
    public async Task CreateInstance_FinishedExists_ReplacesItWithEmptyHistory()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());
        await store.CreateInstanceAsync(Start("a", "Orch", "1"));
        OrchestrationWorkItem item = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
        await store.CompleteOrchestrationAsync(item, Finish(item, "\"done\""));
        InstanceDocument before = (await store.ReadDocumentForTestsAsync("a"))!;
        (await store.GetHistoryAsync("a")).Should().HaveCount(3);

        await store.CreateInstanceAsync(Start("a", "Orch", "2"));

        InstanceRecord record = (await store.GetInstanceAsync("a"))!;
        record.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        record.Input.Should().Be("2");
        record.Output.Should().BeNull();
        (await store.GetHistoryAsync("a")).Should().BeEmpty();
        (await store.ReadDocumentForTestsAsync("a"))!.Incarnation.Should().NotBe(before.Incarnation);
        (await BlobNamesAsync(store.HistoryContainer)).Should().BeEmpty("the replaced incarnation's history is deleted");
    }

    [Fact]
    public async Task SendMessage_UnknownInstance_ThrowsNotFound()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());

        Func<Task> send = () => store.SendMessageAsync(new OrchestrationMessage("nobody", null, new EventRaisedEvent("e", null, "1")));

        await send.Should().ThrowAsync<OrchestrationNotFoundException>();
        (await store.GetInstanceAsync("nobody")).Should().BeNull();
        (await store.GetHistoryAsync("nobody")).Should().BeEmpty();
    }

    [Fact]
    public async Task QueryInstances_FiltersAndPages_InCreationOrder()
    {
        var clock = new ManualTimeProvider();
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(clock);
        DateTime t0 = clock.GetUtcNow().UtcDateTime;
        foreach (string id in new[] { "job-3", "job-1", "other-1", "job-2", "job-0" })
        {
            await store.CreateInstanceAsync(Start(id, id.StartsWith("job", StringComparison.Ordinal) ? "Job" : "Other", null));
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        var pages = new List<IReadOnlyList<string>>();
        string? token = null;
        do
        {
            InstanceQueryResult page = await store.QueryInstancesAsync(new InstanceQuery { InstanceIdPrefix = "job-", PageSize = 2, ContinuationToken = token });
            pages.Add(page.Instances.Select(r => r.InstanceId).ToList());
            token = page.ContinuationToken;
        }
        while (token is not null);

        pages.Should().HaveCount(2);
        pages.SelectMany(p => p).Should().Equal("job-3", "job-1", "job-2", "job-0");
        (await store.QueryInstancesAsync(new InstanceQuery { NamePrefix = "oth" })).Instances.Select(r => r.InstanceId).Should().Equal("other-1");
        (await store.QueryInstancesAsync(new InstanceQuery { CreatedFrom = t0.AddSeconds(1), CreatedTo = t0.AddSeconds(3) }))
            .Instances.Select(r => r.InstanceId).Should().Equal("job-1", "other-1");
        (await store.QueryInstancesAsync(new InstanceQuery { Statuses = [OrchestrationRuntimeStatus.Completed] })).Instances.Should().BeEmpty();
        Func<Task> badToken = () => store.QueryInstancesAsync(new InstanceQuery { ContinuationToken = "not-a-token" });
        await badToken.Should().ThrowAsync<ArgumentException>().WithMessage("*continuation token*");
    }

    [Fact]
    public async Task QueryInstances_UnusualInstanceIds_RoundTripAndMatchByPrefix()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());
        string[] ids = ["ends with dot.", "ünïcödé ✓ id", "percent%20~tilde", new string('x', 20) + new string('é', 230)];
        foreach (string id in ids)
        {
            await store.CreateInstanceAsync(Start(id, "Odd", null));
        }

        foreach (string id in ids)
        {
            (await store.GetInstanceAsync(id))!.InstanceId.Should().Be(id);
        }

        (await store.QueryInstancesAsync(new InstanceQuery { InstanceIdPrefix = "ün" })).Instances.Select(r => r.InstanceId).Should().Equal("ünïcödé ✓ id");
        (await store.QueryInstancesAsync(new InstanceQuery { InstanceIdPrefix = "xxxxx" })).Instances.Should().ContainSingle("a long id is stored under a hash and still found by prefix");
        (await store.QueryInstancesAsync(new InstanceQuery())).Instances.Should().HaveCount(ids.Length);
        (await store.QueryInstancesAsync(new InstanceQuery { InstanceIdPrefix = string.Empty })).Instances.Should().HaveCount(ids.Length, "an empty prefix lists each instance once");
    }

    [Fact]
    public async Task PurgeInstance_RunningFinishedAndUnknown_BehaveAsTheContractSays()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());
        await store.CreateInstanceAsync(Start("done", "Orch", null));
        await store.CreateInstanceAsync(Start("busy", "Orch", null));
        await this.FinishAsync(store, "done");

        Func<Task> purgeBusy = () => store.PurgeInstanceAsync("busy");

        await purgeBusy.Should().ThrowAsync<InvalidOperationException>().WithMessage("*only finished instances can be purged*");
        (await store.PurgeInstanceAsync("done")).Should().BeTrue();
        (await store.PurgeInstanceAsync("done")).Should().BeFalse();
        (await store.PurgeInstanceAsync("never")).Should().BeFalse();
        (await store.GetInstanceAsync("done")).Should().BeNull();
        (await store.GetInstanceAsync("busy")).Should().NotBeNull();
        (await BlobNamesAsync(store.HistoryContainer)).Should().BeEmpty("purge removes the instance's history blobs");
    }

    [Fact]
    public async Task PurgeInstances_Filter_PurgesOnlyMatchingFinishedInstances()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());
        foreach (string id in new[] { "f1", "f2", "running" })
        {
            await store.CreateInstanceAsync(Start(id, "Orch", null));
        }

        await this.FinishAsync(store, "f1");
        await this.FinishAsync(store, "f2");

        int purged = await store.PurgeInstancesAsync(new PurgeInstancesFilter(Statuses: [OrchestrationRuntimeStatus.Completed]));

        purged.Should().Be(2);
        (await store.QueryInstancesAsync(new InstanceQuery())).Instances.Select(r => r.InstanceId).Should().Equal("running");
    }

    [Fact]
    public async Task CompleteOrchestration_StaleLockToken_ThrowsAndChangesNothing()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());
        await store.CreateInstanceAsync(Start("a", "Orch", null));
        OrchestrationWorkItem item = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
        var forged = new OrchestrationWorkItem(item.Instance, item.Messages, "not-the-token", item.DeliveryCount, item.StoreState);

        Func<Task> commit = () => store.CompleteOrchestrationAsync(forged, Finish(forged, "\"x\""));

        await commit.Should().ThrowAsync<StoreConcurrencyException>().WithMessage("*lock on instance 'a' was lost*");
        InstanceDocument doc = (await store.ReadDocumentForTestsAsync("a"))!;
        doc.Record.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        doc.History.Should().BeEmpty();
        doc.Inbox.Should().ContainSingle();
        doc.LockToken.Should().Be(item.LockToken);
    }

    [Fact]
    public async Task CompleteOrchestration_LockExpiredAndTakenOver_LoserChangesNothingWinnerCommits()
    {
        // The lock's expiry is on the store's (manual) clock; the wake-up's reappearance is the emulator's
        // real clock (1 second), so the takeover is awaited with a bounded poll.
        var clock = new ManualTimeProvider();
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(clock);
        await store.CreateInstanceAsync(Start("a", "Orch", null));
        OrchestrationWorkItem first = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(1)))!;
        clock.Advance(TimeSpan.FromSeconds(2));
        OrchestrationWorkItem second = await PollAsync(() => store.TryLockNextOrchestrationAsync(LockDuration));

        Func<Task> loser = () => store.CompleteOrchestrationAsync(first, Finish(first, "\"first\""));

        await loser.Should().ThrowAsync<StoreConcurrencyException>();
        second.DeliveryCount.Should().Be(2);
        (await store.GetInstanceAsync("a"))!.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        (await store.GetHistoryAsync("a")).Should().BeEmpty("the loser's appended history bytes are past the committed length");
        await store.CompleteOrchestrationAsync(second, Finish(second, "\"second\""));
        InstanceRecord record = (await store.GetInstanceAsync("a"))!;
        record.Output.Should().Be("\"second\"");
        (await store.GetHistoryAsync("a")).Should().HaveCount(3);
    }

    [Fact]
    public async Task TryLockNextOrchestration_InstanceLocked_ReturnsNullUntilTheStepCommits()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());
        await store.CreateInstanceAsync(Start("a", "Orch", null));
        OrchestrationWorkItem item = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
        await store.SendMessageAsync(new OrchestrationMessage("a", null, new EventRaisedEvent("e", "1", "ev-1")));

        OrchestrationWorkItem? whileLocked = await store.TryLockNextOrchestrationAsync(LockDuration);

        whileLocked.Should().BeNull();
        await store.CompleteOrchestrationAsync(item, Run(item));
        OrchestrationWorkItem next = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
        next.Messages.Select(m => m.Event).Should().ContainSingle().Which.Should().BeOfType<EventRaisedEvent>();
    }

    [Fact]
    public async Task TryLockNextOrchestration_InstanceLockedByAnotherWorker_WakeUpIsPutOffForTheRecheckDelayNotTheWholeLock()
    {
        var clock = new ManualTimeProvider();
        AzureStorageStoreOptions options = Harness.Options(this.azurite);
        AzureStorageOrchestrationStore holder = await this.NewStoreAsync(clock, o => o.TaskHubName = options.TaskHubName);
        AzureStorageOrchestrationStore other = await this.NewStoreAsync(clock, o => o.TaskHubName = options.TaskHubName);
        await holder.CreateInstanceAsync(Start("a", "Orch", null));
        OrchestrationWorkItem item = (await holder.TryLockNextOrchestrationAsync(LockDuration))!;
        await other.SendMessageAsync(new OrchestrationMessage("a", null, new EventRaisedEvent("e", "1", "ev-1")));

        OrchestrationWorkItem? whileLocked = await other.TryLockNextOrchestrationAsync(LockDuration);

        whileLocked.Should().BeNull("the other worker holds the instance");
        DateTime now = clock.GetUtcNow().UtcDateTime;
        (await other.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(
            now + AzureStorageOrchestrationStore.BusyRecheckDelay,
            "the wake-up that found the instance locked comes back after the re-check delay, not at the lock's expiry ({0})", now + LockDuration);
        LockDuration.Should().BeGreaterThan(AzureStorageOrchestrationStore.BusyRecheckDelay);
        await holder.CompleteOrchestrationAsync(item, Run(item));
        OrchestrationWorkItem next = await PollAsync(() => other.TryLockNextOrchestrationAsync(LockDuration));
        next.Messages.Select(m => m.Event).Should().ContainSingle().Which.Should().BeOfType<EventRaisedEvent>(
            "the holder woke the instance for the message that arrived during its step");
    }

    [Fact]
    public async Task ControlMessage_DequeuedMoreThanMaxDequeueCount_GoesToPoisonQueueAndFailsInstance()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider(), o => o.MaxDequeueCount = 2);
        await store.CreateInstanceAsync(Start("p", "Orch", null));
        for (int i = 0; i < 2; i++)
        {
            OrchestrationWorkItem item = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
            await store.AbandonOrchestrationAsync(item, TimeSpan.Zero);
        }

        OrchestrationWorkItem? third = await store.TryLockNextOrchestrationAsync(LockDuration);

        third.Should().BeNull();
        InstanceRecord record = (await store.GetInstanceAsync("p"))!;
        record.Status.Should().Be(OrchestrationRuntimeStatus.Failed);
        record.Failure!.ErrorType.Should().Be(AzureStorageOrchestrationStore.PoisonErrorType);
        record.Failure.ErrorMessage.Should().Contain("dequeued 3 times").And.Contain("MaxDequeueCount = 2").And.Contain(store.PoisonQueueName);
        (await store.GetHistoryAsync("p")).Last().Should().BeOfType<ExecutionCompletedEvent>();
        QueueMessage poisoned = (await store.PoisonQueue.ReceiveMessageAsync()).Value;
        using JsonDocument json = JsonDocument.Parse(poisoned.Body.ToString());
        json.RootElement.GetProperty("instanceId").GetString().Should().Be("p");
        json.RootElement.GetProperty("dequeueCount").GetInt64().Should().Be(3);
    }

    [Fact]
    public async Task ActivityMessage_DequeuedMoreThanMaxDequeueCount_OrchestrationReceivesPoisonFailure()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Crashy", (_, x) => x)
            .AddOrchestratorFunc<int, int>("CallsCrashy", (ctx, x) => ctx.CallActivityAsync<int>("Crashy", x));
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider(), o => o.MaxDequeueCount = 1);
        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("CallsCrashy", 1);
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        ActivityWorkItem activity = (await h.Store.TryLockNextActivityAsync(LockDuration))!;
        await h.Store.AbandonActivityAsync(activity, TimeSpan.Zero); // the worker "crashed"

        ActivityWorkItem? again = await h.Store.TryLockNextActivityAsync(LockDuration);

        again.Should().BeNull("the second delivery exceeds MaxDequeueCount = 1");
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorMessage.Should().Contain("Crashy").And.Contain("dequeued 2 times").And.Contain(h.Store.PoisonQueueName);
        (await Harness.ApproximateCountAsync(h.Store.PoisonQueue)).Should().Be(1);
    }

    [Fact]
    public async Task LargeActivityInput_OverQueueMessageLimit_TravelsThroughPayloadBlob()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<string, int>("Length", (_, s) => s.Length)
            .AddOrchestratorFunc<string, int>("Big", (ctx, s) => ctx.CallActivityAsync<int>("Length", s));
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());
        string input = string.Concat(Enumerable.Range(0, 20_000).Select(i => (char)('a' + (i % 26)))) + new string('z', 180_000);

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Big", input);
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        (await BlobNamesAsync(h.Store.PayloadsContainer)).Should().ContainSingle("the activity input is over the inline limit");
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);

        meta.ReadOutputAs<int>().Should().Be(input.Length);
        (await BlobNamesAsync(h.Store.PayloadsContainer)).Should().BeEmpty("the payload is deleted when the activity completes");
    }

    [Fact]
    public async Task TaskHubs_SameAccountSameInstanceId_AreIsolated()
    {
        var registry = new DurableTaskRegistry().AddOrchestratorFunc<string, string>("Echo", (_, s) => Task.FromResult(s));
        Harness a = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());
        Harness b = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());
        await a.Client.ScheduleNewOrchestrationInstanceAsync("Echo", "from-a", new StartOrchestrationOptions("same"));
        await b.Client.ScheduleNewOrchestrationInstanceAsync("Echo", "from-b", new StartOrchestrationOptions("same"));

        await a.RunUntilIdleAsync();

        (await a.Client.GetInstanceAsync("same", true))!.ReadOutputAs<string>().Should().Be("from-a");
        (await b.Client.GetInstanceAsync("same", true))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Pending);
        (await a.Client.PurgeInstanceAsync("same")).PurgedInstanceCount.Should().Be(1);
        (await b.Client.GetInstanceAsync("same")).Should().NotBeNull();
        await b.RunUntilIdleAsync();
        (await b.Client.GetInstanceAsync("same", true))!.ReadOutputAs<string>().Should().Be("from-b");
    }

    [Fact]
    public async Task CommitThenCrashBeforeDispatch_NextLockRedispatchesOutbox_ActivityRunsOnce()
    {
        int runs = 0;
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Once", (_, x) =>
            {
                Interlocked.Increment(ref runs);
                return x * 10;
            })
            .AddOrchestratorFunc<int, int>("UsesOnce", (ctx, x) => ctx.CallActivityAsync<int>("Once", x));
        var clock = new ManualTimeProvider();
        Harness h = await Harness.CreateAsync(this.azurite, registry, clock);
        int crashes = 0;
        h.Store.BeforeDispatch = _ => Interlocked.Increment(ref crashes) == 1
            ? throw new IOException("simulated crash between the commit and the dispatch")
            : Task.CompletedTask;

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("UsesOnce", 4);
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();

        crashes.Should().Be(1);
        InstanceDocument doc = (await h.Store.ReadDocumentForTestsAsync(id))!;
        doc.Record.Status.Should().Be(OrchestrationRuntimeStatus.Running, "the step was committed");
        doc.Outbox.Should().ContainSingle().Which.Kind.Should().Be(OutboxKind.Activity);
        (await Harness.ApproximateCountAsync(h.Store.ActivityQueue)).Should().Be(0, "nothing was dispatched");

        // The worker released the step with its retry delay; the instance is held back as a whole until then.
        clock.Advance(TimeSpan.FromSeconds(1));
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);

        meta.ReadOutputAs<int>().Should().Be(40);
        runs.Should().Be(1);
        (await h.Store.ReadDocumentForTestsAsync(id))!.Outbox.Should().BeEmpty();
    }

    [Fact]
    public async Task OutboxRepair_MessageArrivesWhileRepairing_InstanceIsWokenAtOnceWhenTheRepairReleasesIt()
    {
        var clock = new ManualTimeProvider();
        AzureStorageStoreOptions options = Harness.Options(this.azurite);
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(clock, o => o.TaskHubName = options.TaskHubName);
        AzureStorageOrchestrationStore other = await this.NewStoreAsync(clock, o => o.TaskHubName = options.TaskHubName);
        await store.CreateInstanceAsync(Start("a", "Orch", null));
        OrchestrationWorkItem item = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromSeconds(1)))!;
        store.BeforeDispatch = _ => throw new IOException("simulated crash between the commit and the dispatch");
        OrchestrationStepCommit run = Run(item);
        var schedule = new OrchestrationStepCommit
        {
            Instance = run.Instance,
            NewEvents = run.NewEvents,
            Activities = [new ActivityRequest("a", "exec-a", 0, "Noop", null)],
            Messages = [],
        };
        Func<Task> crashed = () => store.CompleteOrchestrationAsync(item, schedule);
        await crashed.Should().ThrowAsync<IOException>();

        // The lock expires on the store's clock; the crashed step's wake-up reappears after 1 s of real time and the
        // next lock repairs the outbox. While it dispatches, an event arrives and another worker meets its wake-up.
        OrchestrationWorkItem? busySeen = null;
        store.BeforeDispatch = async _ =>
        {
            store.BeforeDispatch = null;
            await other.SendMessageAsync(new OrchestrationMessage("a", null, new EventRaisedEvent("e", "1", "ev-1")));
            busySeen = await other.TryLockNextOrchestrationAsync(LockDuration);
        };
        clock.Advance(TimeSpan.FromSeconds(2));
        OrchestrationWorkItem next = await PollAsync(async () =>
        {
            bool repairedBefore = store.BeforeDispatch is null;
            OrchestrationWorkItem? locked = await store.TryLockNextOrchestrationAsync(LockDuration);
            repairedBefore.Should().BeFalse(
                "the repair woke the instance for the event that arrived meanwhile, so the fetch that repaired it went on to lock it for the event " +
                "(instead of leaving it to the other worker's re-check, seconds later)");
            return locked;
        });

        busySeen.Should().BeNull("the instance was locked by the repair when the other worker met the event's wake-up");
        (await store.ReadDocumentForTestsAsync("a"))!.Outbox.Should().BeEmpty("the repair dispatched it");
        next.Messages.Select(m => m.Event).Should().ContainSingle().Which.Should().BeOfType<EventRaisedEvent>();
    }

    [Fact]
    public async Task Deliver_SameMessageIdTwice_IsAppliedOnce()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());
        await store.CreateInstanceAsync(Start("t", "Orch", null));
        var message = new OrchestrationMessage("t", null, new EventRaisedEvent("e", "1", "ev"));

        await store.DeliverAsync("m-1", message, CancellationToken.None);
        await store.DeliverAsync("m-1", message, CancellationToken.None);

        (await store.ReadDocumentForTestsAsync("t"))!.Inbox.Select(e => e.Id).Should().ContainSingle(id => id == "m-1");
        OrchestrationWorkItem item = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
        await store.CompleteOrchestrationAsync(item, Run(item));
        await store.DeliverAsync("m-1", message, CancellationToken.None);
        InstanceDocument doc = (await store.ReadDocumentForTestsAsync("t"))!;
        doc.Inbox.Should().BeEmpty("a re-dispatched message that was already applied is dropped");
        doc.AppliedIds.Should().Contain("m-1");
    }

    [Fact]
    public async Task CompleteActivity_LockLostToAnotherWorker_ReturnsFalseAndRecordsNothing()
    {
        // The activity's lock is its lease blob, on the store's clock: moving the manual clock past it lets another
        // worker take the activity (the queue's visibility is only a hint: zero here, so no real time passes).
        var clock = new ManualTimeProvider();
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Slow", (_, x) => x)
            .AddOrchestratorFunc<int, int>("CallsSlow", (ctx, x) => ctx.CallActivityAsync<int>("Slow", x));
        Harness h = await Harness.CreateAsync(this.azurite, registry, clock, o => o.MaxWakeUpDelay = TimeSpan.Zero);
        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("CallsSlow", 5);
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        ActivityWorkItem first = (await h.Store.TryLockNextActivityAsync(TimeSpan.FromSeconds(1)))!;
        (await h.Store.TryLockNextActivityAsync(LockDuration)).Should().BeNull("the first lease has not expired on the store's clock");
        clock.Advance(TimeSpan.FromSeconds(2));
        ActivityWorkItem second = (await h.Store.TryLockNextActivityAsync(LockDuration))!;
        OrchestrationMessage Result(int value) => new(id, first.Request.ExecutionId, new TaskCompletedEvent(first.Request.TaskId, value.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        bool firstCompleted = await h.Store.CompleteActivityAsync(first, Result(1));
        bool renewed = await h.Store.RenewActivityLockAsync(first, LockDuration);

        firstCompleted.Should().BeFalse();
        renewed.Should().BeFalse();
        second.DeliveryCount.Should().Be(2);
        (await h.Store.ReadDocumentForTestsAsync(id))!.Inbox.Should().BeEmpty();
        (await h.Store.CompleteActivityAsync(second, Result(2))).Should().BeTrue();
        OrchestrationMetadata meta = await h.DriveToCompletionAsync(id);
        meta.ReadOutputAs<int>().Should().Be(2);
    }

    [Fact]
    public async Task TryLockFromQueueMessage_MessagesAsTheFunctionsHostDeliversThem_RunTheOrchestration()
    {
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Neg", (_, x) => -x)
            .AddOrchestratorFunc<int, int>("ViaTrigger", (ctx, x) => ctx.CallActivityAsync<int>("Neg", x));
        Harness h = await Harness.CreateAsync(this.azurite, registry, new ManualTimeProvider());
        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("ViaTrigger", 9);

        async Task DeliverOneAsync(Azure.Storage.Queues.QueueClient queue, bool encodeTwice)
        {
            QueueMessage m = (await queue.ReceiveMessageAsync(TimeSpan.FromMinutes(1))).Value;
            string text = encodeTwice ? JsonSerializer.Serialize(m.Body.ToString()) : m.Body.ToString();
            QueueWorkItem item = (await h.Store.TryLockFromQueueMessageAsync(text, m.MessageId, m.PopReceipt, m.DequeueCount, LockDuration))!;
            if (item.Kind == WorkItemKind.Orchestration)
            {
                await h.Worker.ProcessOrchestrationAsync(item.Orchestration!);
            }
            else
            {
                await h.Worker.ProcessActivityAsync(item.Activity!);
            }
        }

        await DeliverOneAsync(h.Store.ControlQueue, encodeTwice: false);
        await DeliverOneAsync(h.Store.ActivityQueue, encodeTwice: true);
        await DeliverOneAsync(h.Store.ControlQueue, encodeTwice: false);

        (await h.Client.GetInstanceAsync(id, true))!.ReadOutputAs<int>().Should().Be(-9);
        Func<Task> foreign = () => h.Store.TryLockFromQueueMessageAsync("hello", "id", "pop", 1, LockDuration);
        await foreign.Should().ThrowAsync<FormatException>().WithMessage("*not a message of the Azure Storage store*");
    }

    [Fact]
    public async Task GetNextWakeUpTime_TimerScheduledHere_ReturnsItsDueTime()
    {
        var clock = new ManualTimeProvider();
        var registry = new DurableTaskRegistry().AddOrchestratorFunc<int, int>("Nap", async (ctx, _) =>
        {
            await ctx.CreateTimer(TimeSpan.FromMinutes(5));
            return 0;
        });
        Harness h = await Harness.CreateAsync(this.azurite, registry, clock);
        await h.Client.ScheduleNewOrchestrationInstanceAsync("Nap", 0);

        await h.RunUntilIdleAsync();

        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(clock.GetUtcNow().UtcDateTime.AddMinutes(5));
        (await h.Store.GetNextWakeUpTimeAsync(WorkItemKind.Activity)).Should().BeNull();
    }

    [Fact]
    public async Task Sweep_InstanceWhoseWakeUpWasLost_IsWokenAndRuns()
    {
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(new ManualTimeProvider());
        await store.CreateInstanceAsync(Start("lost", "Orch", null));
        await store.CreateInstanceAsync(Start("later", "Orch", null) with { VisibleAt = new ManualTimeProvider().GetUtcNow().UtcDateTime.AddHours(1) });
        await store.ControlQueue.ClearMessagesAsync(); // the wake-ups are lost
        (await store.TryLockNextOrchestrationAsync(LockDuration)).Should().BeNull();

        int young = await store.SweepAsync(TimeSpan.FromHours(1));
        int sent = await store.SweepAsync(TimeSpan.Zero);

        young.Should().Be(0, "documents changed within the minimum age are left alone");
        sent.Should().Be(1, "only 'lost' has a visible message; 'later' is not due");
        OrchestrationWorkItem item = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
        item.InstanceId.Should().Be("lost");
        await store.CompleteOrchestrationAsync(item, Finish(item, "\"swept\""));
        (await store.SweepAsync(TimeSpan.Zero)).Should().Be(0, "nothing is pending any more");
    }

    [Fact]
    public async Task ZeroMaxWakeUpDelay_ManualClock_TimerFiresOnlyAfterTheClockIsAdvanced()
    {
        // The test mode for a manual clock: wake-ups are never hidden, so no real time passes in this test.
        var clock = new ManualTimeProvider();
        var registry = new DurableTaskRegistry().AddOrchestratorFunc<int, string>("Alarm", async (ctx, _) =>
        {
            await ctx.CreateTimer(TimeSpan.FromMinutes(5));
            return "rang";
        });
        Harness h = await Harness.CreateAsync(this.azurite, registry, clock, o => o.MaxWakeUpDelay = TimeSpan.Zero);
        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Alarm", 0);

        await h.RunUntilIdleAsync();
        OrchestrationRuntimeStatus before = (await h.Client.GetInstanceAsync(id))!.RuntimeStatus;
        clock.Advance(TimeSpan.FromMinutes(5));
        await h.RunUntilIdleAsync();

        before.Should().Be(OrchestrationRuntimeStatus.Running);
        OrchestrationMetadata meta = (await h.Client.GetInstanceAsync(id, true))!;
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<string>().Should().Be("rang");
    }

    [Fact]
    public async Task ZeroMaxWakeUpDelay_AbandonWithDelay_MessagesReturnWhenTheManualClockPassesTheDelay()
    {
        var clock = new ManualTimeProvider();
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(clock, o => o.MaxWakeUpDelay = TimeSpan.Zero);
        await store.CreateInstanceAsync(Start("a", "Orch", null));
        OrchestrationWorkItem first = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
        await store.AbandonOrchestrationAsync(first, TimeSpan.FromMinutes(1));

        OrchestrationWorkItem? early = await store.TryLockNextOrchestrationAsync(LockDuration);
        clock.Advance(TimeSpan.FromMinutes(1));
        OrchestrationWorkItem? due = await store.TryLockNextOrchestrationAsync(LockDuration);

        early.Should().BeNull();
        due.Should().NotBeNull();
        due!.DeliveryCount.Should().Be(2);
        (await store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration)).Should().Be(
            clock.GetUtcNow().UtcDateTime + LockDuration, "the instance is locked now, so it is available again when that lock expires");
    }

    [Fact]
    public async Task ZeroMaxWakeUpDelay_LockExpiresOnManualClock_AnotherWorkerTakesOverWithoutRealTime()
    {
        var clock = new ManualTimeProvider();
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(clock, o => o.MaxWakeUpDelay = TimeSpan.Zero);
        await store.CreateInstanceAsync(Start("a", "Orch", null));
        OrchestrationWorkItem first = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1)))!;

        OrchestrationWorkItem? whileLocked = await store.TryLockNextOrchestrationAsync(LockDuration);
        clock.Advance(TimeSpan.FromMinutes(2));
        OrchestrationWorkItem? afterExpiry = await store.TryLockNextOrchestrationAsync(LockDuration);

        whileLocked.Should().BeNull();
        afterExpiry.Should().NotBeNull();
        afterExpiry!.DeliveryCount.Should().Be(2);
        Func<Task> loser = () => store.CompleteOrchestrationAsync(first, Finish(first, "\"first\""));
        await loser.Should().ThrowAsync<StoreConcurrencyException>();
        await store.CompleteOrchestrationAsync(afterExpiry, Finish(afterExpiry, "\"second\""));
        (await store.GetInstanceAsync("a"))!.Output.Should().Be("\"second\"");
    }

    [Fact]
    public async Task CompleteOrchestration_LoserAppendedHistoryPastCommittedLength_WinnerStartsNewSegment()
    {
        var clock = new ManualTimeProvider();
        AzureStorageOrchestrationStore store = await this.NewStoreAsync(clock, o => o.MaxWakeUpDelay = TimeSpan.Zero);
        await store.CreateInstanceAsync(Start("a", "Orch", null));
        OrchestrationWorkItem step1 = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
        await store.CompleteOrchestrationAsync(step1, Run(step1));
        await store.SendMessageAsync(new OrchestrationMessage("a", null, new EventRaisedEvent("e", "1", "ev-1")));
        OrchestrationWorkItem loser = (await store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1)))!;
        clock.Advance(TimeSpan.FromMinutes(2));
        OrchestrationWorkItem winner = (await store.TryLockNextOrchestrationAsync(LockDuration))!;

        var loserCommit = new OrchestrationStepCommit
        {
            Instance = loser.Instance with { Status = OrchestrationRuntimeStatus.Terminated, HistoryCount = loser.Instance.HistoryCount + 2 },
            NewEvents = [new OrchestratorStartedEvent(), new ExecutionTerminatedEvent("loser")],
            Activities = [],
            Messages = [],
        };
        Func<Task> lose = () => store.CompleteOrchestrationAsync(loser, loserCommit);
        await lose.Should().ThrowAsync<StoreConcurrencyException>();
        await store.CompleteOrchestrationAsync(winner, Run(winner));

        InstanceDocument doc = (await store.ReadDocumentForTestsAsync("a"))!;
        doc.History.Should().HaveCount(2, "the first segment has the loser's bytes past its committed length");
        IReadOnlyList<HistoryEvent> history = await store.GetHistoryAsync("a");
        history.Should().HaveCount(doc.Record.HistoryCount).And.HaveCount(4);
        history.OfType<ExecutionTerminatedEvent>().Should().BeEmpty();
        history.OfType<EventRaisedEvent>().Should().ContainSingle();
    }

    private static OrchestrationMessage Start(string id, string name, string? input) =>
        new(id, "exec-" + id, new ExecutionStartedEvent(name, input, "exec-" + id));

    /// <summary>A step that starts the execution and leaves it running.</summary>
    private static OrchestrationStepCommit Run(OrchestrationWorkItem item)
    {
        var events = new List<HistoryEvent> { new OrchestratorStartedEvent() };
        events.AddRange(item.Messages.Select(m => m.Event));
        return new OrchestrationStepCommit
        {
            Instance = item.Instance with { Status = OrchestrationRuntimeStatus.Running, HistoryCount = item.Instance.HistoryCount + events.Count },
            NewEvents = events,
            Activities = [],
            Messages = [],
        };
    }

    /// <summary>A step that starts and completes the execution.</summary>
    private static OrchestrationStepCommit Finish(OrchestrationWorkItem item, string output)
    {
        var events = new List<HistoryEvent>
        {
            new OrchestratorStartedEvent(),
            item.Messages.Select(m => m.Event).OfType<ExecutionStartedEvent>().Single(),
            new ExecutionCompletedEvent(OrchestrationRuntimeStatus.Completed, output, null),
        };
        return new OrchestrationStepCommit
        {
            Instance = item.Instance with { Status = OrchestrationRuntimeStatus.Completed, Output = output, HistoryCount = events.Count },
            NewEvents = events,
            Activities = [],
            Messages = [],
        };
    }

    private static async Task<List<string>> BlobNamesAsync(Azure.Storage.Blobs.BlobContainerClient container) =>
        await container.GetBlobsAsync().Select(b => b.Name).ToListAsync();

    /// <summary>Polls until the call returns a value: for work hidden on the emulator's clock. Bounded; not a sleep-to-synchronise.</summary>
    private static async Task<T> PollAsync<T>(Func<Task<T?>> attempt, int timeoutSeconds = 20)
        where T : class
    {
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            if (await attempt() is { } value)
            {
                return value;
            }

            if (elapsed.Elapsed > TimeSpan.FromSeconds(timeoutSeconds))
            {
                throw new TimeoutException($"Nothing became available within {timeoutSeconds} seconds.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }
    }

    private async Task<AzureStorageOrchestrationStore> NewStoreAsync(TimeProvider clock, Action<AzureStorageStoreOptions>? configure = null)
    {
        AzureStorageStoreOptions options = Harness.Options(this.azurite);
        configure?.Invoke(options);
        var store = new AzureStorageOrchestrationStore(options, clock);
        await store.InitializeAsync();
        return store;
    }

    private async Task FinishAsync(AzureStorageOrchestrationStore store, string instanceId)
    {
        // Lock until this instance comes up (another instance's wake-up may come first: abandon it).
        while (true)
        {
            OrchestrationWorkItem item = (await store.TryLockNextOrchestrationAsync(LockDuration))!;
            if (item.InstanceId == instanceId)
            {
                await store.CompleteOrchestrationAsync(item, Finish(item, "\"ok\""));
                return;
            }

            await store.AbandonOrchestrationAsync(item, TimeSpan.Zero);
        }
    }
}
