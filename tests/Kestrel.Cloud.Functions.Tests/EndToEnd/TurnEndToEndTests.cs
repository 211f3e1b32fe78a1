using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.EndToEnd;

/// <summary>Turns through HTTP only, with the real engine and run service and the OpenAI SDK on a scripted model.</summary>
public sealed class TurnEndToEndTests
{
    /// <summary>
    /// Proves wait mode end to end: the scripted answer comes back as the final text, the run shows Completed with the
    /// model's usage, the session holds the exchange, and a second message of the same session sends the first exchange
    /// to the model.
    /// </summary>
    [Fact]
    public async Task PostMessage_WaitModeTwoMessagesInOneSession_CompletesAndSendsFirstExchangeToModel()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync();
        e2e.Model.Enqueue(TurnWire.Text("Hello, ", "Ana."), TurnWire.Text("You told me your name is Ana."));

        JsonElement first = await (await e2e.PostMessageAsync("Hi, I am Ana.", "mode=wait", "alice")).ShouldBeJsonAsync(HttpStatusCode.OK);

        first.GetProperty("status").GetString().Should().Be("Completed");
        first.GetProperty("finalText").GetString().Should().Be("Hello, Ana.");
        string runId = first.GetProperty("runId").GetString()!;
        JsonElement run = await e2e.GetRunAsync(runId);
        run.GetProperty("status").GetString().Should().Be("Completed");
        run.GetProperty("finished").GetBoolean().Should().BeTrue();
        run.GetProperty("agent").GetString().Should().Be("default");
        run.GetProperty("sessionKey").GetString().Should().Be("alice");
        run.GetProperty("iterations").GetInt32().Should().Be(1);
        run.GetProperty("usage").GetProperty("inputTokens").GetInt64().Should().Be(100, "TurnWire.Text reports 100 prompt tokens");
        run.GetProperty("usage").GetProperty("outputTokens").GetInt64().Should().Be(10);

        JsonElement sessions = await (await e2e.Client.GetAsync("/api/sessions?agent=default", EndToEndHost.Deadline())).ShouldBeJsonAsync(HttpStatusCode.OK);
        JsonElement listed = sessions.GetProperty("sessions").EnumerateArray().Should().ContainSingle().Subject;
        listed.GetProperty("key").GetString().Should().Be("alice");
        listed.GetProperty("messageCount").GetInt32().Should().Be(2);
        JsonElement session = await (await e2e.Client.GetAsync("/api/sessions/default/alice", EndToEndHost.Deadline())).ShouldBeJsonAsync(HttpStatusCode.OK);
        string messages = session.GetProperty("messages").GetRawText();
        messages.Should().Contain("Hi, I am Ana.").And.Contain("Hello, Ana.");

        JsonElement second = await (await e2e.PostMessageAsync("What is my name?", "mode=wait", "alice")).ShouldBeJsonAsync(HttpStatusCode.OK);

        second.GetProperty("finalText").GetString().Should().Be("You told me your name is Ana.");
        e2e.Model.Requests.Should().HaveCount(2);
        e2e.Model.Requests[0].Header("Authorization").Should().Be("Bearer sk-test");
        e2e.Model.Requests[0].Json.GetProperty("model").GetString().Should().Be("gpt-test");
        TurnWire.Messages(e2e.Model.Requests[0]).Where(m => m.Role != "system").Should().Equal(("user", "Hi, I am Ana."));
        TurnWire.Messages(e2e.Model.Requests[1]).Where(m => m.Role != "system").Should().Equal(
            ("user", "Hi, I am Ana."), ("assistant", "Hello, Ana."), ("user", "What is my name?"));
    }

    /// <summary>
    /// Proves a multi-step turn: the model lists the agent's files, reads one (read-only tools the default policy
    /// allows, no approval), gets each result and then answers.
    /// </summary>
    [Fact]
    public async Task PostMessage_ReadOnlyToolsOverThreeSteps_RunsToolsWithoutApprovalAndCompletes()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync();
        string files = Path.Join(e2e.Host.DataPath, "agents", "default", "files");
        Directory.CreateDirectory(files);
        await File.WriteAllTextAsync(Path.Join(files, "notes.txt"), "remember the milk");
        e2e.Model.Enqueue(
            TurnWire.Tools("Let me look.", ("call_list", "files_list", "{}")),
            TurnWire.Tools(null, ("call_read", "files_read", """{"path":"notes.txt"}""")),
            TurnWire.Text("Your note says: remember the milk."));

        JsonElement done = await (await e2e.PostMessageAsync("What does my note say?", "mode=wait")).ShouldBeJsonAsync(HttpStatusCode.OK);

        done.GetProperty("status").GetString().Should().Be("Completed");
        done.GetProperty("finalText").GetString().Should().Be("Your note says: remember the milk.");
        done.GetProperty("iterations").GetInt32().Should().Be(3);
        List<SseFrame> events = await e2e.ReadAllEventsAsync(done.GetProperty("runId").GetString()!);
        events.Where(e => e.Event == "tool.call.requested").Select(e => EndToEndHost.Data(e).GetProperty("decision").GetString())
            .Should().Equal("allow", "allow");
        events.Select(e => e.Event).Should().NotContain("approval.requested");
        JsonElement[] results = events.Where(e => e.Event == "tool.result").Select(EndToEndHost.Data).ToArray();
        results.Select(r => r.GetProperty("tool").GetString()).Should().Equal("files_list", "files_read");
        results.Should().OnlyContain(r => !r.GetProperty("isError").GetBoolean());
        e2e.Model.Requests.Should().HaveCount(3);
        TurnWire.Messages(e2e.Model.Requests[1]).Last().Should().Match<(string Role, string Text)>(m => m.Role == "tool" && m.Text.Contains("notes.txt"));
        TurnWire.Messages(e2e.Model.Requests[2]).Last().Should().Match<(string Role, string Text)>(m => m.Role == "tool" && m.Text.Contains("remember the milk"));
    }

    /// <summary>
    /// Proves stream mode: the response is the run's SSE from run.started through text deltas to run.finished with the
    /// final text, ids 1..n in order; GET events with Last-Event-ID resumes after that id and closes after run.finished.
    /// </summary>
    [Fact]
    public async Task PostMessage_StreamMode_StreamsEventsInOrder_EventsResumeAfterLastEventId()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync();
        e2e.Model.Enqueue(TurnWire.Text("Once ", "upon ", "a time."));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/agents/default/messages?mode=stream") { Content = EndToEndHost.Message("Tell a story") };

        using SseReader stream = await SseReader.OpenAsync(e2e.Client, request, EndToEndHost.Deadline());
        List<SseFrame> events = await stream.ReadAllEventsAsync(EndToEndHost.Deadline());

        stream.Response.StatusCode.Should().Be(HttpStatusCode.OK);
        stream.Response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        string runId = stream.Response.Headers.GetValues("x-run-id").Single();
        events.Select(e => long.Parse(e.Id!, System.Globalization.CultureInfo.InvariantCulture)).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i));
        events[0].Event.Should().Be("run.started");
        EndToEndHost.Data(events[0]).GetProperty("runId").GetString().Should().Be(runId);
        events[^1].Event.Should().Be("run.finished");
        JsonElement finished = EndToEndHost.Data(events[^1]);
        finished.GetProperty("status").GetString().Should().Be("completed");
        finished.GetProperty("text").GetString().Should().Be("Once upon a time.");
        List<SseFrame> deltas = events.Where(e => e.Event == "text.delta").ToList();
        deltas.Should().HaveCountGreaterThan(1, "deltas are unbatched in these tests");
        string.Concat(deltas.Select(d => EndToEndHost.Data(d).GetProperty("text").GetString())).Should().Be("Once upon a time.");
        events.FindIndex(e => e.Event == "text.delta").Should().Be(1, "text follows run.started");

        // The stream closed after run.finished; the run reads as finished at once (not "Running" until the instance completes).
        JsonElement run = await e2e.GetRunAsync(runId);
        run.GetProperty("status").GetString().Should().Be("Completed");
        run.GetProperty("finished").GetBoolean().Should().BeTrue();
        run.GetProperty("finalText").GetString().Should().Be("Once upon a time.");
        run.GetProperty("iterations").GetInt32().Should().Be(1);
        run.GetProperty("usage").GetProperty("inputTokens").GetInt64().Should().Be(100);

        List<SseFrame> resumed = await e2e.ReadAllEventsAsync(runId, lastEventId: 2);

        resumed.Select(e => e.Id).Should().Equal(events.Skip(2).Select(e => e.Id));
        resumed.Select(e => e.Event).Should().Equal(events.Skip(2).Select(e => e.Event));
        resumed[^1].Event.Should().Be("run.finished");
    }

    /// <summary>
    /// Proves cancel mid-run: while the model's stream hangs after some text, POST cancel ends the run as Cancelled and
    /// keeps the text already streamed, in run.finished and in the run.
    /// </summary>
    [Fact]
    public async Task Cancel_WhileModelStreamHangs_RunEndsCancelledKeepingPartialText()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync();
        e2e.Model.Enqueue(TurnWire.TextThenHang("partial ", "answer"));
        string runId = await e2e.StartRunAsync("Write a long essay");

        using (SseReader reader = await e2e.OpenEventsAsync(runId))
        {
            // Read until both streamed pieces are in the log: the model call is then hanging mid-stream.
            CancellationToken deadline = EndToEndHost.Deadline();
            string text = string.Empty;
            while (text != "partial answer" && await reader.ReadEventAsync(deadline) is { } frame)
            {
                if (frame.Event == "text.delta")
                {
                    text += EndToEndHost.Data(frame).GetProperty("text").GetString();
                }
            }

            text.Should().Be("partial answer");
        }

        JsonElement cancel = await (await e2e.Client.PostAsync($"/api/runs/{runId}/cancel?reason=enough", null, EndToEndHost.Deadline())).ShouldBeJsonAsync(HttpStatusCode.Accepted);
        cancel.GetProperty("cancelRequested").GetBoolean().Should().BeTrue();

        List<SseFrame> events = await e2e.ReadAllEventsAsync(runId);
        JsonElement finished = EndToEndHost.Data(events[^1]);
        events[^1].Event.Should().Be("run.finished");
        finished.GetProperty("status").GetString().Should().Be("cancelled");
        finished.GetProperty("text").GetString().Should().Be("partial answer");
        // Right after run.finished (the instance may complete one engine step later) the run reads as Cancelled.
        JsonElement run = await e2e.GetRunAsync(runId);
        run.GetProperty("status").GetString().Should().Be("Cancelled");
        run.GetProperty("finalText").GetString().Should().Be("partial answer");
        await (await e2e.Client.PostAsync($"/api/runs/{runId}/cancel", null, EndToEndHost.Deadline()))
            .ShouldBeProblemAsync(HttpStatusCode.Conflict, "run-finished");
    }

    /// <summary>
    /// Proves the run reads as finished as soon as run.finished is in its log: the Finish activity is held after
    /// appending it (so the engine instance is still running), the event stream has closed, and GET shows Completed with
    /// the final text while cancel answers 409; once released the instance completes.
    /// </summary>
    [Fact]
    public async Task GetRun_RunFinishedLoggedBeforeInstanceCompletes_ReadsFinishedAndCancelAnswers409()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync(o => o.ConfigureServices = GatedRunEventLog.Register);
        GatedRunEventLog gated = e2e.Host.App.Services.GetRequiredService<GatedRunEventLog>();
        e2e.Model.Enqueue(TurnWire.Text("All done."));
        string runId = await e2e.StartRunAsync("Finish up");
        try
        {
            List<SseFrame> events = await e2e.ReadAllEventsAsync(runId);
            events[^1].Event.Should().Be("run.finished");
            (await e2e.Host.DurableClient.GetInstanceAsync(runId, getInputsAndOutputs: false, EndToEndHost.Deadline()))!.IsCompleted
                .Should().BeFalse("the Finish activity is held, so the instance has not completed");

            JsonElement run = await e2e.GetRunAsync(runId);

            run.GetProperty("status").GetString().Should().Be("Completed");
            run.GetProperty("finished").GetBoolean().Should().BeTrue();
            run.GetProperty("finalText").GetString().Should().Be("All done.");
            run.GetProperty("iterations").GetInt32().Should().Be(1);
            JsonElement problem = await (await e2e.Client.PostAsync($"/api/runs/{runId}/cancel", null, EndToEndHost.Deadline()))
                .ShouldBeProblemAsync(HttpStatusCode.Conflict, "run-finished");
            problem.GetProperty("runStatus").GetString().Should().Be("Completed");
        }
        finally
        {
            gated.Release();
        }

        (await e2e.Host.WaitForCompletionAsync(runId)).IsCompleted.Should().BeTrue();
        (await e2e.GetRunAsync(runId)).GetProperty("status").GetString().Should().Be("Completed");
    }

    /// <summary>
    /// Proves a provider failure ends the run as Failed with a message that is safe to show (the provider's error, no
    /// exception text) rather than an HTTP error: the scripted server answers 500 to every call.
    /// </summary>
    [Fact]
    public async Task PostMessage_ProviderAnswers500_RunFailsWithSafeErrorNot500()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync();
        e2e.Model.Enqueue(OpenAIWire.ServerError(), OpenAIWire.ServerError(), OpenAIWire.ServerError(), OpenAIWire.ServerError());

        JsonElement done = await (await e2e.PostMessageAsync("hello", "mode=wait")).ShouldBeJsonAsync(HttpStatusCode.OK);

        done.GetProperty("status").GetString().Should().Be("Failed");
        string error = done.GetProperty("error").GetString()!;
        error.Should().Contain("The server had an error while processing your request", "provider errors keep their message")
            .And.NotContain("   at ", "no stack trace reaches the caller");
        List<SseFrame> events = await e2e.ReadAllEventsAsync(done.GetProperty("runId").GetString()!);
        EndToEndHost.Data(events[^1]).GetProperty("status").GetString().Should().Be("failed");
        (await e2e.Client.GetAsync("/api/sessions/default/default", EndToEndHost.Deadline())).StatusCode.Should().Be(HttpStatusCode.NotFound, "a failed turn does not save its session");
    }
}
