using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Sqlite.Tests;

/// <summary>Writes queued while a transaction runs share the next one; a refused write in it changes nothing and harms no other.</summary>
public sealed class GroupCommitTests : IDisposable
{
    private readonly SqliteStoreFixture fixture = new();

    public void Dispose() => this.fixture.Dispose();

    [Fact]
    public async Task QueuedWrites_OneRefused_OthersCommitTogetherInOneTransaction()
    {
        var store = this.fixture.OpenStore();
        await store.InitializeAsync();
        for (int i = 0; i < 6; i++)
        {
            await store.CreateInstanceAsync(Start($"i{i}"));
        }

        var items = new List<OrchestrationWorkItem>();
        for (int i = 0; i < 6; i++)
        {
            items.Add((await store.TryLockNextOrchestrationAsync(TimeSpan.FromMinutes(1)))!);
        }

        // Hold the writer back so the leading write waits with the rest queued behind it.
        await store.WriteGate.WaitAsync();
        long before = store.CommittedTransactions;
        Task leader;
        List<Task> commits;
        Task missing;
        try
        {
            leader = Task.Run(() => store.SendMessageAsync(Event("i0", "first")));
            SpinWait.SpinUntil(() => store.DrainingWithEmptyQueue, TimeSpan.FromSeconds(30)).Should().BeTrue("the leader takes its write and waits for the gate");
            var stale = new OrchestrationWorkItem(items[2].Instance, items[2].Messages, "not-the-token", 1, items[2].StoreState);
            commits = items.Select(item => item == items[2]
                ? store.CompleteOrchestrationAsync(stale, Commit(stale))
                : store.CompleteOrchestrationAsync(item, Commit(item))).ToList();
            missing = store.SendMessageAsync(Event("nobody", "lost"));
            store.QueuedWrites.Should().Be(7);
        }
        finally
        {
            store.WriteGate.Release();
        }

        await leader;
        await missing.Invoking(t => t).Should().ThrowAsync<OrchestrationNotFoundException>();
        await commits[2].Invoking(t => t).Should().ThrowAsync<StoreConcurrencyException>();
        await Task.WhenAll(commits.Where((_, i) => i != 2));

        store.CommittedTransactions.Should().Be(before + 2, "the leader's write commits alone, the seven queued ones in one transaction");
        foreach (var item in items.Where(i => i != items[2]))
        {
            (await store.GetInstanceAsync(item.InstanceId))!.Status.Should().Be(OrchestrationRuntimeStatus.Completed);
        }

        (await store.GetInstanceAsync(items[2].InstanceId))!.Status.Should().Be(OrchestrationRuntimeStatus.Pending);
        (await store.GetHistoryAsync(items[2].InstanceId)).Should().BeEmpty();
    }

    private static OrchestrationMessage Start(string id) => new(id, "e1", new ExecutionStartedEvent("Test", null, "e1"));

    private static OrchestrationMessage Event(string id, string name) => new(id, null, new EventRaisedEvent(name, null, name));

    private static OrchestrationStepCommit Commit(OrchestrationWorkItem item) => new()
    {
        Instance = item.Instance with { Status = OrchestrationRuntimeStatus.Completed, HistoryCount = 2 },
        NewEvents = [new OrchestratorStartedEvent(), item.Messages[0].Event],
        Activities = [],
        Messages = [],
    };
}
