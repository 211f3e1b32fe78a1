using System.Text.Json;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Storage.Tests.Contracts;

/// <summary>What every <see cref="IRunEventLog"/> must do; subclassed once per store.</summary>
public abstract class RunEventLogContract : IAsyncLifetime
{
    protected ManualTimeProvider Clock { get; } = new();

    protected IRunEventLog Log { get; private set; } = null!;

    /// <summary>A log on fresh, empty storage, on <see cref="Clock"/>.</summary>
    protected abstract Task<IRunEventLog> CreateLogAsync();

    public async Task InitializeAsync() => this.Log = await this.CreateLogAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    protected static NewRunEvent Event(string key, string type = "text", string text = "x") =>
        NewRunEvent.Create(key, type, new { text });

    [Fact]
    public async Task AppendAsync_Batch_NumbersEventsOneToNInOrder()
    {
        long last = await this.Log.AppendAsync("run-1", [Event("a", "started", "one"), Event("b", "text", "two"), Event("c", "finished", "three")]);

        last.Should().Be(3);
        IReadOnlyList<RunEvent> events = await this.Log.ReadAsync("run-1", 0);
        events.Select(e => e.Sequence).Should().Equal(1, 2, 3);
        events.Select(e => e.Type).Should().Equal("started", "text", "finished");
        events.Select(e => e.Data.GetProperty("text").GetString()).Should().Equal("one", "two", "three");
        events.Should().OnlyContain(e => e.Timestamp == this.Clock.GetUtcNow());
    }

    [Fact]
    public async Task AppendAsync_SecondBatch_ContinuesNumberingAndReadPagesByAfterAndMax()
    {
        await this.Log.AppendAsync("run-1", [Event("a"), Event("b")]);
        this.Clock.Advance(TimeSpan.FromSeconds(5));
        long last = await this.Log.AppendAsync("run-1", [Event("c"), Event("d"), Event("e")]);

        last.Should().Be(5);
        (await this.Log.ReadAsync("run-1", 2, maxCount: 2)).Select(e => e.Sequence).Should().Equal(3, 4);
        (await this.Log.ReadAsync("run-1", 4)).Select(e => e.Sequence).Should().Equal(5);
        (await this.Log.ReadAsync("run-1", 5)).Should().BeEmpty();
        (await this.Log.ReadAsync("run-1", 2)).Should().OnlyContain(e => e.Timestamp == this.Clock.GetUtcNow());
    }

    [Fact]
    public async Task AppendAsync_KeysAlreadyInLogOrRepeatedInBatch_AreSkipped()
    {
        await this.Log.AppendAsync("run-1", [Event("a", text: "first a"), Event("b", text: "first b")]);

        long last = await this.Log.AppendAsync("run-1", [Event("b", text: "second b"), Event("c"), Event("c", text: "again c")]);

        last.Should().Be(3);
        IReadOnlyList<RunEvent> events = await this.Log.ReadAsync("run-1", 0);
        events.Select(e => e.Data.GetProperty("text").GetString()).Should().Equal("first a", "first b", "x");
    }

    [Fact]
    public async Task AppendAsync_OnlyKnownKeys_ReturnsLastSequenceAndAppendsNothing()
    {
        await this.Log.AppendAsync("run-1", [Event("a"), Event("b")]);

        (await this.Log.AppendAsync("run-1", [Event("a"), Event("b")])).Should().Be(2);
        (await this.Log.AppendAsync("run-1", [])).Should().Be(2);

        (await this.Log.ReadAsync("run-1", 0)).Should().HaveCount(2);
    }

    [Fact]
    public async Task AppendAsync_OneEventTooLarge_RejectsWholeBatch()
    {
        await this.Log.AppendAsync("run-1", [Event("a")]);
        string big = new('x', RunEventLogLimits.MaxEventDataSizeBytes);

        Func<Task> append = () => this.Log.AppendAsync("run-1", [Event("b"), Event("c", text: big), Event("d")]);

        (await append.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("an event may carry at most 65536");
        (await this.Log.ReadAsync("run-1", 0)).Should().ContainSingle();
        (await this.Log.AppendAsync("run-1", [Event("b")])).Should().Be(2, "b was not recorded by the rejected batch");
    }

    [Fact]
    public async Task AppendAsync_EmptyKey_RejectsWholeBatch()
    {
        Func<Task> append = () => this.Log.AppendAsync("run-1", [Event("a"), Event(string.Empty)]);

        await append.Should().ThrowAsync<ArgumentException>();
        (await this.Log.ReadAsync("run-1", 0)).Should().BeEmpty();
    }

    [Fact]
    public async Task AppendAsync_PastMaxEventsPerRun_ThrowsFullAndAppendsNothing()
    {
        int limit = RunEventLogLimits.MaxEventsPerRun;
        await this.Log.AppendAsync("run-1", Enumerable.Range(0, limit - 1).Select(i => Event($"e{i}")).ToList());

        Func<Task> crossing = () => this.Log.AppendAsync("run-1", [Event("x1"), Event("x2")]);
        (await crossing.Should().ThrowAsync<RunEventLogFullException>()).Which.Message
            .Should().Be($"The run run-1 already holds {limit - 1} events; a run may hold at most {limit}.");

        (await this.Log.AppendAsync("run-1", [Event("x1")])).Should().Be(limit, "the rejected batch added nothing, so one more still fits");
        Func<Task> past = () => this.Log.AppendAsync("run-1", [Event("x2")]);
        await past.Should().ThrowAsync<RunEventLogFullException>();
        (await this.Log.AppendAsync("run-1", [Event("x1")])).Should().Be(limit, "a duplicate of a stored key is still skipped when the log is full");
        (await this.Log.ReadAsync("run-1", limit - 2)).Select(e => e.Sequence).Should().Equal(limit - 1, limit);
    }

    [Fact]
    public async Task AppendAsync_TwoTasksAtOnce_EveryEventOnceWithDenseSequences()
    {
        const int perTask = 15;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task Writer(string prefix)
        {
            await start.Task;
            for (int i = 0; i < perTask; i++)
            {
                await this.Log.AppendAsync("run-1", [Event($"{prefix}{i:D2}", text: prefix)]);
            }
        }

        Task a = Task.Run(() => Writer("a"));
        Task b = Task.Run(() => Writer("b"));
        start.SetResult();
        await Task.WhenAll(a, b).Within();

        IReadOnlyList<RunEvent> events = await this.Log.ReadAsync("run-1", 0);
        events.Select(e => e.Sequence).Should().Equal(Enumerable.Range(1, 2 * perTask).Select(i => (long)i));
        foreach (string prefix in new[] { "a", "b" })
        {
            events.Count(e => e.Data.GetProperty("text").GetString() == prefix).Should().Be(perTask, $"every append of writer {prefix} landed once");
        }
    }

    [Fact]
    public async Task AppendAsync_TwoTasksSameKeys_EachKeyOnce()
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task Writer()
        {
            await start.Task;
            for (int i = 0; i < 10; i++)
            {
                await this.Log.AppendAsync("run-1", [Event($"k{i:D2}"), Event($"k{i + 1:D2}")]);
            }
        }

        Task a = Task.Run(Writer);
        Task b = Task.Run(Writer);
        start.SetResult();
        await Task.WhenAll(a, b).Within();

        IReadOnlyList<RunEvent> events = await this.Log.ReadAsync("run-1", 0);
        events.Should().HaveCount(11, "keys k00..k10, each once");
        events.Select(e => e.Sequence).Should().Equal(Enumerable.Range(1, 11).Select(i => (long)i));
    }

    [Fact]
    public async Task AppendAsync_TwoRuns_NumberedIndependently()
    {
        await this.Log.AppendAsync("run-a", [Event("a"), Event("b")]);
        (await this.Log.AppendAsync("run-b", [Event("a")])).Should().Be(1);

        (await this.Log.ReadAsync("run-b", 0)).Select(e => e.Sequence).Should().Equal(1);
        (await this.Log.ReadAsync("run-a", 0)).Should().HaveCount(2);
    }

    [Fact]
    public async Task AppendAsync_RunIdWithAnyCharacters_RoundTripsData()
    {
        string runId = "run/ü:1?x=../" + new string('z', 300);
        var data = JsonSerializer.SerializeToElement(new { text = "héllo\nworld \"quoted\" 🐦", nested = new { n = 1.5, list = new[] { 1, 2 } } });

        await this.Log.AppendAsync(runId, [new NewRunEvent("k", "toolResult", data)]);

        RunEvent read = (await this.Log.ReadAsync(runId, 0)).Single();
        read.Type.Should().Be("toolResult");
        JsonSerializer.Serialize(read.Data).Should().Be(JsonSerializer.Serialize(data));
        (await this.Log.ReadAsync("run", 0)).Should().BeEmpty("another run id shares no events");
    }

    [Fact]
    public async Task ReadAsync_UnknownRun_ReturnsEmpty()
    {
        (await this.Log.ReadAsync("nobody", 0)).Should().BeEmpty();
    }

    [Fact]
    public async Task WaitAsync_EventsAlreadyAfterSequence_CompletesAtOnce()
    {
        await this.Log.AppendAsync("run-1", [Event("a"), Event("b")]);

        await this.Log.WaitAsync("run-1", 1, TimeSpan.FromDays(1)).Within();
    }

    [Fact]
    public async Task WaitAsync_InProcessAppend_WakesTheWaiter()
    {
        await this.Log.AppendAsync("run-1", [Event("a")]);
        Task wait = this.Log.WaitAsync("run-1", 1, TimeSpan.FromDays(1));

        await this.Log.AppendAsync("run-1", [Event("b")]);

        // The clock never moves, so only the append can end the wait.
        await wait.Within();
        (await this.Log.ReadAsync("run-1", 1)).Should().ContainSingle();
    }

    [Fact]
    public async Task WaitAsync_NothingAppended_ReturnsWhenMaxWaitPassesOnTheClock()
    {
        Task wait = this.Log.WaitAsync("run-1", 0, TimeSpan.FromSeconds(10));
        await Bounded.UntilAsync(() => this.Clock.PendingTimerCount > 0 || wait.IsCompleted, "the wait to start its timer");

        wait.IsCompleted.Should().BeFalse("no event exists and no time has passed");
        this.Clock.Advance(TimeSpan.FromSeconds(9));
        wait.IsCompleted.Should().BeFalse("maxWait has not passed yet");
        this.Clock.Advance(TimeSpan.FromSeconds(1));
        await wait.Within();
    }

    [Fact]
    public async Task WaitAsync_AppendToAnotherRun_DoesNotWake()
    {
        Task wait = this.Log.WaitAsync("run-1", 0, TimeSpan.FromSeconds(10));
        await Bounded.UntilAsync(() => this.Clock.PendingTimerCount > 0 || wait.IsCompleted, "the wait to start its timer");

        await this.Log.AppendAsync("run-2", [Event("a")]);

        wait.IsCompleted.Should().BeFalse();
        this.Clock.Advance(TimeSpan.FromSeconds(10));
        await wait.Within();
    }

    [Fact]
    public async Task WaitAsync_Cancelled_Throws()
    {
        using var cts = new CancellationTokenSource();
        Task wait = this.Log.WaitAsync("run-1", 0, TimeSpan.FromDays(1), cts.Token);

        cts.Cancel();

        await FluentActions.Awaiting(() => wait.Within()).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task DeleteAsync_RemovesLog_SecondDeleteFalse_NewAppendsStartAtOne()
    {
        await this.Log.AppendAsync("run-1", [Event("a"), Event("b")]);

        (await this.Log.DeleteAsync("run-1")).Should().BeTrue();
        (await this.Log.DeleteAsync("run-1")).Should().BeFalse();

        (await this.Log.ReadAsync("run-1", 0)).Should().BeEmpty();
        (await this.Log.AppendAsync("run-1", [Event("a")])).Should().Be(1, "the deleted log's keys are forgotten too");
    }
}

/// <summary>Extra obligations of stores that outlive the process: another instance on the same storage sees everything.</summary>
public abstract class DurableRunEventLogContract : RunEventLogContract
{
    /// <summary>A second log instance on the same storage (as another process would open it).</summary>
    protected abstract Task<IRunEventLog> OpenSecondInstanceAsync();

    [Fact]
    public async Task SecondInstance_ReadsWhatTheFirstWrote_AndContinuesNumberingWithDedupe()
    {
        await this.Log.AppendAsync("run-1", [Event("a", text: "from first"), Event("b")]);
        IRunEventLog second = await this.OpenSecondInstanceAsync();

        IReadOnlyList<RunEvent> seen = await second.ReadAsync("run-1", 0);
        seen.Select(e => (e.Sequence, e.Data.GetProperty("text").GetString())).Should().Equal((1L, "from first"), (2L, "x"));
        seen[0].Timestamp.Should().Be(this.Clock.GetUtcNow());

        (await second.AppendAsync("run-1", [Event("b"), Event("c")])).Should().Be(3);
        (await this.Log.ReadAsync("run-1", 2)).Should().ContainSingle().Which.Sequence.Should().Be(3);
        await second.WaitAsync("run-1", 2, TimeSpan.FromDays(1)).Within();
    }

    [Fact]
    public async Task TwoInstancesAppendingAtOnce_EveryEventOnceWithDenseSequences()
    {
        IRunEventLog second = await this.OpenSecondInstanceAsync();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task Writer(IRunEventLog log, string prefix)
        {
            await start.Task;
            for (int i = 0; i < 10; i++)
            {
                await log.AppendAsync("run-1", [Event($"{prefix}{i}"), Event($"shared{i}")]);
            }
        }

        Task a = Task.Run(() => Writer(this.Log, "a"));
        Task b = Task.Run(() => Writer(second, "b"));
        start.SetResult();
        await Task.WhenAll(a, b).Within();

        IReadOnlyList<RunEvent> events = await this.Log.ReadAsync("run-1", 0);
        events.Should().HaveCount(30, "10 + 10 own events and 10 shared keys, each once");
        events.Select(e => e.Sequence).Should().Equal(Enumerable.Range(1, 30).Select(i => (long)i));
    }
}
