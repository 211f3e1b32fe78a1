using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Tests.Infrastructure;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class RunEventStreamTests
{
    private static async Task<string> StartRunAsync(ServerHost host)
    {
        HttpResponseMessage response = await host.Client.PostAsync("/api/agents/default/messages?mode=async", HttpAssertions.Json("{\"message\":\"hi\"}"));
        return (await response.ShouldBeJsonAsync(HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
    }

    private static Task<SseReader> OpenAsync(ServerHost host, string path, string? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        return SseReader.OpenAsync(host.Client, request, ServerHost.DeadlineToken());
    }

    [Fact]
    public async Task Events_FinishedRun_ReplaysEveryEventWithIdTypeAndOneLineJsonThenCloses()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.AppendTextAsync(runId, "line one\nline two");
        await runs.CompleteAsync(runId, "line one\nline two");

        using SseReader sse = await OpenAsync(host, $"/api/runs/{runId}/events");
        List<SseFrame> frames = await sse.ReadAllEventsAsync(ServerHost.DeadlineToken());

        sse.Response.StatusCode.Should().Be(HttpStatusCode.OK);
        sse.Response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        sse.Response.Headers.CacheControl!.NoCache.Should().BeTrue();
        frames.Select(f => (f.Id, f.Event)).Should().Equal(("1", RunEventTypes.Started), ("2", RunEventTypes.TextDelta), ("3", RunEventTypes.Finished));
        // Multi-line text travels as one data line with \n escaped inside the JSON string.
        frames[1].Data.Should().NotContain("\n");
        JsonDocument.Parse(frames[1].Data!).RootElement.GetProperty("text").GetString().Should().Be("line one\nline two");
        JsonDocument.Parse(frames[2].Data!).RootElement.GetProperty("status").GetString().Should().Be("completed");
    }

    [Fact]
    public async Task Events_LastEventIdHeader_ResumesAfterThatEvent()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.AppendTextAsync(runId, "a");
        await runs.AppendTextAsync(runId, "b");
        await runs.CompleteAsync(runId, "ab");

        using SseReader sse = await OpenAsync(host, $"/api/runs/{runId}/events?after=1", lastEventId: "3");
        List<SseFrame> frames = await sse.ReadAllEventsAsync(ServerHost.DeadlineToken());

        frames.Select(f => f.Id).Should().Equal(new[] { "4" }, "Last-Event-ID (what a reconnecting EventSource sends) wins over ?after=");
    }

    [Fact]
    public async Task Events_AfterQueryParameter_ResumesAfterThatEvent()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.AppendTextAsync(runId, "a");
        await runs.CompleteAsync(runId, "a");

        using SseReader sse = await OpenAsync(host, $"/api/runs/{runId}/events?after=1");

        (await sse.ReadAllEventsAsync(ServerHost.DeadlineToken())).Select(f => f.Id).Should().Equal("2", "3");
    }

    [Fact]
    public async Task Events_LiveRun_DeliversNewEventsAsTheyAreAppendedAndClosesAfterFinished()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        CancellationToken deadline = ServerHost.DeadlineToken();

        using SseReader sse = await OpenAsync(host, $"/api/runs/{runId}/events");
        (await sse.ReadEventAsync(deadline))!.Event.Should().Be(RunEventTypes.Started);

        await runs.AppendTextAsync(runId, "thinking");
        SseFrame delta = (await sse.ReadEventAsync(deadline))!;
        delta.Id.Should().Be("2");
        delta.Event.Should().Be(RunEventTypes.TextDelta);

        await runs.CompleteAsync(runId, "done");
        (await sse.ReadEventAsync(deadline))!.Event.Should().Be(RunEventTypes.Finished);
        (await sse.ReadFrameAsync(deadline)).Should().BeNull("the server ends the response after the finished event");
    }

    [Fact]
    public async Task Events_IdleStream_SendsAHeartbeatCommentWhenTheIntervalPasses()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync(o =>
        {
            o.Args.Add("--KestrelCloud:AgentsApi:EventStreamHeartbeatInterval=00:00:10");
            o.Args.Add("--KestrelCloud:AgentsApi:EventStreamPollInterval=00:00:10");
        });
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        CancellationToken deadline = ServerHost.DeadlineToken();
        using SseReader sse = await OpenAsync(host, $"/api/runs/{runId}/events");
        (await sse.ReadEventAsync(deadline))!.Event.Should().Be(RunEventTypes.Started);

        // Nothing is appended, so the only thing the stream can send is a heartbeat, and only when the clock passes the
        // interval. The stream may be between deciding to wait and arming its timer when the clock moves, so keep moving
        // it (bounded by the deadline) until the frame arrives; no real time passes.
        Task<SseFrame?> next = sse.ReadFrameAsync(deadline);
        while (!next.IsCompleted)
        {
            host.Clock.Advance(TimeSpan.FromSeconds(10));
            await Task.Yield();
            deadline.ThrowIfCancellationRequested();
        }

        SseFrame heartbeat = (await next.WaitAsync(deadline))!;

        heartbeat.Comment.Should().Be("heartbeat");
        heartbeat.Event.Should().BeNull();
        await runs.CompleteAsync(runId, "done");
        (await sse.ReadEventAsync(deadline))!.Event.Should().Be(RunEventTypes.Finished);
    }

    [Fact]
    public async Task Events_FormatJson_ReturnsThePageAndWhetherTheRunFinished()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.AppendTextAsync(runId, "a");

        HttpResponseMessage liveResponse = await host.Client.GetAsync($"/api/runs/{runId}/events?format=json");
        JsonElement live = await liveResponse.ShouldBeJsonAsync(HttpStatusCode.OK);
        live.EnumerateArray().Select(e => e.GetProperty("type").GetString()).Should().Equal(RunEventTypes.Started, RunEventTypes.TextDelta);
        liveResponse.Headers.GetValues("Last-Event-ID").Single().Should().Be("2");
        liveResponse.Headers.GetValues("x-run-finished").Single().Should().Be("false");

        await runs.CompleteAsync(runId, "a");
        HttpResponseMessage restResponse = await host.Client.GetAsync($"/api/runs/{runId}/events?format=json&after=2");
        JsonElement rest = await restResponse.ShouldBeJsonAsync(HttpStatusCode.OK);
        rest.EnumerateArray().Select(e => e.GetProperty("id").GetInt64()).Should().Equal(3);
        rest[0].GetProperty("data").GetProperty("status").GetString().Should().Be("completed");
        restResponse.Headers.GetValues("x-run-finished").Single().Should().Be("true");
    }

    [Theory]
    [InlineData("?after=-1", null, "after")]
    [InlineData("?after=abc", null, "after")]
    [InlineData("", "x", "Last-Event-ID")]
    [InlineData("?format=xml", null, "format")]
    public async Task Events_BadCursorOrFormat_Returns400(string query, string? lastEventId, string parameter)
    {
        (ServerHost host, FakeAgentRunService _) = await AgentsApiHost.StartAsync();
        await using ServerHost __ = host;
        string runId = await StartRunAsync(host);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/runs/{runId}/events{query}");
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        JsonElement problem = await (await host.Client.SendAsync(request)).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-query-parameter");

        problem.GetProperty("parameter").GetString().Should().Be(parameter);
    }
}
