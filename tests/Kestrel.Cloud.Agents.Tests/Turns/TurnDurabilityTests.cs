using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Providers.Usage;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Testing.Scripted;
using Kestrel.Cloud.Agents.Turns;
using Kestrel.Cloud.Durable;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>Restarts, retried activities, compaction and start-up checks of agent turns.</summary>
public sealed class TurnDurabilityTests
{
    /// <summary>
    /// Proves a tool whose result is recorded is not run again after a worker restart: the turn stops right after the
    /// RunTool activity committed, a new worker (empty replay cache) on the same SQLite file replays the history and
    /// finishes the run, and the tool ran exactly once and its result event appears once.
    /// </summary>
    [Fact]
    public async Task ToolResultRecorded_WorkerRestartsOnSqlite_ToolNotRunAgain()
    {
        var counter = new RecordingTool("writer", isReadOnly: false);
        await using TurnHarness h = await TurnHarness.CreateAsync(sqlite: true, null, counter);
        await h.CreateAgentAsync("w", "tools: [writer]\napproval:\n  - tool: writer\n    action: allow");
        h.Server.Enqueue(TurnWire.Tools("Writing.", ("w1", "writer", """{"q":"once"}""")), TurnWire.Text("done"));

        string runId = await h.StartAsync("w", "write once");
        (await h.RunUntilAsync(() => counter.Calls.Count == 1)).Should().BeTrue();
        (await h.GetAsync(runId)).Status.Should().Be(RunStatus.Running, "the orchestration has not applied the tool result yet");

        await h.RestartAsync();
        await h.RunUntilIdleAsync();

        RunInfo run = await h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Completed);
        run.FinalText.Should().Be("done");
        counter.Calls.Should().HaveCount(1);
        IReadOnlyList<RunEvent> events = await h.EventsOfAsync(runId);
        events.Count(e => e.Type == RunEventTypes.ToolResult).Should().Be(1);
        events.Count(e => e.Type == RunEventTypes.Finished).Should().Be(1);
        events.Count(e => e.Type == RunEventTypes.Started).Should().Be(1);
    }

    /// <summary>
    /// Proves CallModel run twice with the same input (an at-least-once retry) appends its events once: the first
    /// piece of text goes out at once as its own batch, the rest is batched, and the keys deduplicate the retry.
    /// </summary>
    [Fact]
    public async Task CallModel_RunTwice_AppendsEventsOnce()
    {
        await using TurnHarness h = await TurnHarness.CreateAsync(sqlite: false, new Dictionary<string, string?> { ["KestrelCloud:Agents:DeltaBatchInterval"] = "00:00:05" });
        await h.CreateAgentAsync("a", "tools: []");
        h.Server.Enqueue(TurnWire.Text("Hel", "lo", " there"), TurnWire.Text("Hel", "lo", " there"));
        h.Services.GetRequiredService<DurableTaskRegistry>().TryGetActivity(AgentTurnNames.CallModel, out Func<IServiceProvider, ITaskActivity>? factory).Should().BeTrue();
        var input = new CallModelInput("run.a.0123", "a", null, 1, "system", new[] { new TurnMessage("user", "hi") }, ProviderUsage.Zero);

        object? first = await factory!(h.Services).RunAsync(new TaskActivityContext(AgentTurnNames.CallModel, "run.a.0123", 2, default), input);
        object? second = await factory(h.Services).RunAsync(new TaskActivityContext(AgentTurnNames.CallModel, "run.a.0123", 2, default), input);

        ((CallModelResult)first!).Text.Should().Be("Hello there");
        ((CallModelResult)second!).Text.Should().Be("Hello there");
        IReadOnlyList<RunEvent> events = await h.EventsOfAsync("run.a.0123");
        events.Select(e => e.Type).Should().Equal(RunEventTypes.TextDelta, RunEventTypes.TextDelta, RunEventTypes.Usage);
        events.Select(e => e.Data.GetProperty("step").GetInt32()).Should().AllBeEquivalentTo(1);
        events[0].Data.GetProperty("text").GetString().Should().Be("Hel");
        events[1].Data.GetProperty("text").GetString().Should().Be("lo there");
    }

    /// <summary>
    /// Proves compaction: with history over the context budget, older turns are summarised by a model call and
    /// replaced by the summary in the prompt and in the stored session, while the latest turn is kept word for word.
    /// </summary>
    [Fact]
    public async Task Session_OverBudget_OlderTurnsSummarised()
    {
        await using TurnHarness h = await TurnHarness.CreateAsync(sqlite: false, new Dictionary<string, string?>
        {
            ["KestrelCloud:Agents:ContextBudgetTokens"] = "100",
            ["KestrelCloud:Agents:CompactionKeepRecentTurns"] = "1",
        });
        await h.CreateAgentAsync("a", "tools: []");
        string pad = new('.', 300);
        var history = new[]
        {
            new TurnMessage("user", "OLD-1 I like tea" + pad), new TurnMessage("assistant", "ANSWER-1" + pad),
            new TurnMessage("user", "OLD-2 and biscuits" + pad), new TurnMessage("assistant", "ANSWER-2" + pad),
            new TurnMessage("user", "RECENT-3"), new TurnMessage("assistant", "ANSWER-3"),
        };
        (await h.Sessions.SaveAsync("a", "long", TurnMessages.ToSessionJson(history), history.Length, Array.Empty<string>(), null)).Should().NotBeNull();
        h.Server.Enqueue(OpenAIWire.Text("SUMMARY: the user likes tea and biscuits."), TurnWire.Text("Tea it is."));

        string runId = await h.StartAsync("a", "What do I like?", "long");
        await h.RunUntilIdleAsync();

        RunInfo run = await h.GetAsync(runId);
        run.FinalText.Should().Be("Tea it is.");
        run.Usage.InputTokens.Should().Be(110, "the summary call (10) and the answer (100) both count");
        string summaryRequest = h.Server.Requests[0].Body;
        summaryRequest.Should().Contain("OLD-1").And.Contain("OLD-2").And.NotContain("RECENT-3");
        var answer = TurnWire.Messages(h.Server.Requests[1]);
        answer[0].Role.Should().Be("system");
        answer[0].Text.Should().Contain("SUMMARY: the user likes tea and biscuits.");
        answer.Select(m => m.Text).Should().NotContain(t => t.Contains("OLD-1", StringComparison.Ordinal));
        answer.Skip(1).Select(m => m.Text).Should().Equal("RECENT-3", "ANSWER-3", "What do I like?");

        IReadOnlyList<TurnMessage> stored = TurnMessages.FromSessionJson((await h.Sessions.GetAsync("a", "long"))!.MessagesJson);
        stored.Select(m => m.Role).Should().Equal("system", "user", "assistant", "user", "assistant");
        stored[0].Text.Should().Contain("SUMMARY: the user likes tea and biscuits.");
        stored[^1].Text.Should().Be("Tea it is.");
    }

    /// <summary>
    /// Proves cancelling while the model is still streaming ends the run at once as Cancelled, with the text streamed
    /// so far as its final text and in the saved session (recovered from the run's log), and finished as the last event.
    /// </summary>
    [Fact]
    public async Task Cancel_WhileModelStreams_KeepsStreamedText()
    {
        await using TurnHarness h = await TurnHarness.CreateAsync(sqlite: false, new Dictionary<string, string?> { ["KestrelCloud:Agents:DeltaBatchInterval"] = "00:00:00" });
        await h.CreateAgentAsync("a", "tools: []");
        h.Server.Enqueue(TurnWire.TextThenHang("Partial ", "answer"));
        string runId = await h.StartAsync("a", "write a long essay", "s");

        // Start, LoadContext, then the step that schedules CallModel.
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        (await h.Worker.TryProcessNextActivityAsync()).Should().BeTrue();
        (await h.Worker.TryProcessNextOrchestrationAsync()).Should().BeTrue();
        using var stopStreaming = new CancellationTokenSource();
        Task<bool> streaming = h.Worker.TryProcessNextActivityAsync(stopStreaming.Token);
        for (int i = 0; i < 100 && (await h.EventsOfAsync(runId)).Count(e => e.Type == RunEventTypes.TextDelta) < 2; i++)
        {
            await h.Events.WaitAsync(runId, (await h.EventsOfAsync(runId)).Count, TimeSpan.FromSeconds(10));
        }

        (await h.Runs.CancelAsync(runId, "enough")).Should().BeTrue();
        await h.RunUntilIdleAsync();

        RunInfo run = await h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Cancelled);
        run.FinalText.Should().Be("Partial answer");
        IReadOnlyList<RunEvent> events = await h.EventsOfAsync(runId);
        events[^1].Type.Should().Be(RunEventTypes.Finished);
        events[^1].Data.GetProperty("status").GetString().Should().Be("cancelled");
        events[^1].Data.GetProperty("text").GetString().Should().Be("Partial answer");
        IReadOnlyList<TurnMessage> session = TurnMessages.FromSessionJson((await h.Sessions.GetAsync("a", "s"))!.MessagesJson);
        session.Select(m => (m.Role, m.Text)).Should().Equal(("user", "write a long essay"), ("assistant", "Partial answer"));

        // Finishing stopped the model call still streaming in this process: it ends without appending anything more.
        (await streaming.WaitAsync(TimeSpan.FromSeconds(30))).Should().BeTrue();
        stopStreaming.IsCancellationRequested.Should().BeFalse();
        (await h.EventsOfAsync(runId))[^1].Type.Should().Be(RunEventTypes.Finished, "nothing is appended after finished");
        (await h.EventsOfAsync(runId)).Count(e => e.Type == RunEventTypes.Usage).Should().Be(0);
    }

    /// <summary>
    /// Proves a provider's context-window error during a model call is handled inside the call: the older turns are
    /// summarised by the model and the call is retried once with the summary in the system prompt.
    /// </summary>
    [Fact]
    public async Task CallModel_ContextWindowExceeded_SummarisesOlderTurnsAndRetries()
    {
        await using TurnHarness h = await TurnHarness.CreateAsync(sqlite: false, new Dictionary<string, string?> { ["KestrelCloud:Agents:CompactionKeepRecentTurns"] = "1" });
        await h.CreateAgentAsync("a", "tools: []");
        var history = new[] { new TurnMessage("user", "OLD question"), new TurnMessage("assistant", "OLD answer") };
        (await h.Sessions.SaveAsync("a", "s", TurnMessages.ToSessionJson(history), history.Length, Array.Empty<string>(), null)).Should().NotBeNull();
        h.Server.Enqueue(OpenAIWire.ContextTooLong(), OpenAIWire.Text("SUMMARY: an old question was answered."), TurnWire.Text("Fresh answer."));

        string runId = await h.StartAsync("a", "NEW question", "s");
        await h.RunUntilIdleAsync();

        (await h.GetAsync(runId)).FinalText.Should().Be("Fresh answer.");
        h.Server.Requests.Should().HaveCount(3);
        h.Server.Requests[1].Body.Should().Contain("OLD question").And.NotContain("NEW question");
        var retried = TurnWire.Messages(h.Server.Requests[2]);
        retried.Select(m => m.Role).Should().Equal("system", "user");
        retried[0].Text.Should().Contain("SUMMARY: an old question was answered.");
        retried[1].Text.Should().Be("NEW question");
    }

    /// <summary>Proves StartAsync refuses an agent whose provider is not configured, naming the environment variable to set.</summary>
    [Fact]
    public async Task Start_ProviderNotConfigured_MessageNamesEnvironmentVariable()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariables.AnthropicApiKey) is { Length: > 0 })
        {
            return; // The environment configures the provider this test needs missing.
        }

        await using TurnHarness h = await TurnHarness.CreateAsync(sqlite: false);
        await h.CreateAgentAsync("claude", "provider: anthropic\ntools: []");

        Func<Task> start = () => h.Runs.StartAsync(new StartRunRequest("claude", "hi"));

        (await start.Should().ThrowAsync<ProviderNotConfiguredException>()).Which.Message.Should().Contain("ANTHROPIC_API_KEY");
        (await h.Runs.ListAsync(null, null)).Runs.Should().BeEmpty("nothing was started");
    }
}
