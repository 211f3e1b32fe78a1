using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class MessageEndpointsTests
{
    private static StringContent Message(string text, string? sessionKey = null) =>
        HttpAssertions.Json(JsonSerializer.Serialize(new { message = text, sessionKey }));

    [Fact]
    public async Task PostMessage_AsyncMode_Returns202WithStatusEventsAndCancelLinks()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents/default/messages?mode=async", Message("hello", "alice"));

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.Accepted);
        string runId = body.GetProperty("runId").GetString()!;
        body.GetProperty("status").GetString().Should().Be("Pending");
        JsonElement links = body.GetProperty("links");
        links.GetProperty("status").GetString().Should().Be(new Uri(host.BaseAddress, $"/api/runs/{runId}").ToString());
        links.GetProperty("events").GetString().Should().EndWith($"/api/runs/{runId}/events");
        links.GetProperty("cancel").GetString().Should().EndWith($"/api/runs/{runId}/cancel");
        response.Headers.Location!.ToString().Should().Be(links.GetProperty("status").GetString());
        runs.Started.Should().ContainSingle().Which.Should().Be(new StartRunRequest("default", "hello", "alice"));
        host.Logs.WithEventId(2042).Should().ContainSingle().Which.Message.Should().Contain(runId).And.Contain("async");
    }

    [Fact]
    public async Task PostMessage_NoModeNoWait_DefaultsToAsync()
    {
        (ServerHost host, FakeAgentRunService _) = await AgentsApiHost.StartAsync();
        await using ServerHost __ = host;

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents/default/messages", Message("hello"));

        (await response.ShouldBeJsonAsync(HttpStatusCode.Accepted)).GetProperty("runId").GetString().Should().NotBeNullOrEmpty();
    }

    [Fact]
    public async Task PostMessage_WaitModeRunFinishes_Returns200WithFinalTextAndUsage()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        runs.CompleteImmediatelyWith = "Hello, Ana.";

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents/default/messages?mode=wait&wait=10s", Message("hi"));

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.OK);
        body.GetProperty("status").GetString().Should().Be("Completed");
        body.GetProperty("finished").GetBoolean().Should().BeTrue();
        body.GetProperty("finalText").GetString().Should().Be("Hello, Ana.");
        body.GetProperty("usage").GetProperty("inputTokens").GetInt64().Should().Be(0);
    }

    [Fact]
    public async Task PostMessage_WaitTimesOut_Returns202WithLinksAndTheCurrentStatus()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;

        Task<HttpResponseMessage> pending = host.Client.PostAsync("/api/agents/default/messages?wait=30s", Message("think long"));
        await runs.WaitStarted.Task.WaitAsync(ServerHost.DeadlineToken());
        pending.IsCompleted.Should().BeFalse("the run has not finished and the wait has not elapsed");
        host.Clock.Advance(TimeSpan.FromSeconds(30));
        HttpResponseMessage response = await pending.WaitAsync(ServerHost.DeadlineToken());

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.Accepted);
        body.GetProperty("status").GetString().Should().Be("Pending");
        body.GetProperty("links").GetProperty("events").GetString().Should().EndWith("/events");
    }

    [Fact]
    public async Task PostMessage_WaitModeRunAsksForApproval_Returns202AtOnceWithoutWaitingOut()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;

        Task<HttpResponseMessage> pending = host.Client.PostAsync("/api/agents/default/messages?mode=wait&wait=5m", Message("write a file"));
        await runs.WaitStarted.Task.WaitAsync(ServerHost.DeadlineToken());
        await runs.RequestApprovalAsync("run-1", "call_1", "files_write", new { path = "a.txt" }, host.Clock.GetUtcNow().AddHours(1));
        HttpResponseMessage response = await pending.WaitAsync(ServerHost.DeadlineToken());

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.Accepted);
        body.GetProperty("status").GetString().Should().Be("WaitingForApproval", "the clock never moved: the answer came because a human is needed");
    }

    [Fact]
    public async Task PostMessage_WaitModeEventLogUnreadable_Returns202WithLinksAndLogsWhy()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync(o => o.ConfigureServices = UnreadableRunEventLog.Register);
        await using ServerHost _ = host;

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents/default/messages?mode=wait&wait=5m", Message("hi"))
            .WaitAsync(ServerHost.DeadlineToken());

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.Accepted);
        string runId = body.GetProperty("runId").GetString()!;
        body.GetProperty("status").GetString().Should().Be("Pending", "the clock never moved: the answer came because the approval watch failed");
        body.GetProperty("links").GetProperty("status").GetString().Should().EndWith($"/api/runs/{runId}");
        LogEntry warning = host.Logs.WithEventId(2046).Should().ContainSingle().Subject;
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Message.Should().Contain(runId);
        warning.Exception.Should().BeOfType<IOException>().Which.Message.Should().Be(UnreadableRunEventLog.Failure);
        runs.Started.Should().ContainSingle("the run was started once; a 5xx here would invite a retry that starts another");
    }

    [Fact]
    public async Task PostMessage_WaitLongerThanTheMaximum_IsCappedToTheMaximum()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync(o =>
        {
            o.Args.Add("--KestrelCloud:AgentsApi:DefaultMessageWait=00:00:01");
            o.Args.Add("--KestrelCloud:AgentsApi:MaxMessageWait=00:00:05");
        });
        await using ServerHost _ = host;

        Task<HttpResponseMessage> pending = host.Client.PostAsync("/api/agents/default/messages?mode=wait&wait=1h", Message("think long"));
        await runs.WaitStarted.Task.WaitAsync(ServerHost.DeadlineToken());
        host.Clock.Advance(TimeSpan.FromSeconds(5));

        (await (await pending.WaitAsync(ServerHost.DeadlineToken())).ShouldBeJsonAsync(HttpStatusCode.Accepted)).GetProperty("runId").GetString().Should().NotBeNull();
    }

    [Fact]
    public async Task PostMessage_StreamMode_StreamsTheRunsEventsAndCloses()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        runs.CompleteImmediatelyWith = "Done.";

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/agents/default/messages?mode=stream") { Content = Message("go") };
        using SseReader sse = await SseReader.OpenAsync(host.Client, request, ServerHost.DeadlineToken());
        List<SseFrame> frames = await sse.ReadAllEventsAsync(ServerHost.DeadlineToken());

        sse.Response.StatusCode.Should().Be(HttpStatusCode.OK);
        sse.Response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        sse.Response.Headers.GetValues("x-run-id").Single().Should().Be("run-1");
        frames.Select(f => f.Event).Should().Equal(RunEventTypes.Started, RunEventTypes.TextDelta, RunEventTypes.Finished);
        frames.Select(f => f.Id).Should().Equal("1", "2", "3");
        JsonDocument.Parse(frames[2].Data!).RootElement.GetProperty("text").GetString().Should().Be("Done.");
    }

    [Fact]
    public async Task PostMessage_AcceptEventStream_ChoosesStreamMode()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        runs.CompleteImmediatelyWith = "Done.";

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/agents/default/messages") { Content = Message("go") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using SseReader sse = await SseReader.OpenAsync(host.Client, request, ServerHost.DeadlineToken());

        (await sse.ReadAllEventsAsync(ServerHost.DeadlineToken())).Last().Event.Should().Be(RunEventTypes.Finished);
    }

    [Fact]
    public async Task PostMessage_UnknownAgent_Returns404AndStartsNothing()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;

        await (await host.Client.PostAsync("/api/agents/nobody/messages", Message("hi"))).ShouldBeProblemAsync(HttpStatusCode.NotFound, "agent-not-found");

        runs.Started.Should().BeEmpty();
    }

    [Theory]
    [InlineData("{}", "message")]
    [InlineData("{\"message\":\"   \"}", "message")]
    [InlineData("{\"message\":42}", "message")]
    [InlineData("{\"message\":\"hi\",\"sessionKey\":\"has space\"}", "sessionKey")]
    public async Task PostMessage_InvalidField_Returns400NamingIt(string json, string field)
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;

        JsonElement problem = await (await host.Client.PostAsync("/api/agents/default/messages", HttpAssertions.Json(json))).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-field");

        problem.GetProperty("field").GetString().Should().Be(field);
        runs.Started.Should().BeEmpty();
    }

    [Fact]
    public async Task PostMessage_MalformedJson_Returns400()
    {
        (ServerHost host, FakeAgentRunService _) = await AgentsApiHost.StartAsync();
        await using ServerHost __ = host;

        await (await host.Client.PostAsync("/api/agents/default/messages", HttpAssertions.Json("{\"message\":"))).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-json");
    }

    [Theory]
    [InlineData("mode=later")]
    [InlineData("mode=wait&wait=soon")]
    public async Task PostMessage_BadModeOrWait_Returns400(string query)
    {
        (ServerHost host, FakeAgentRunService _) = await AgentsApiHost.StartAsync();
        await using ServerHost __ = host;

        await (await host.Client.PostAsync("/api/agents/default/messages?" + query, Message("hi"))).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-query-parameter");
    }

    [Fact]
    public async Task PostMessage_EngineSaysNoProvider_Returns503NamingTheVariables()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        runs.OnStart = _ => throw ChatClientFactory.NotConfigured("anthropic");

        JsonElement problem = await (await host.Client.PostAsync("/api/agents/default/messages", Message("hi"))).ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable, "provider-not-configured");

        problem.Detail().Should().Contain("ANTHROPIC_API_KEY");
        problem.GetProperty("environmentVariables").EnumerateArray().Select(e => e.GetString()).Should().Equal("ANTHROPIC_API_KEY");
    }

    [Fact]
    public async Task PostMessage_NoProviderConfigured_DefaultServer_Returns503NamingTheVariables()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.Args.AddRange(AgentsApiHost.NoProviderArgs));

        JsonElement problem = await (await host.Client.PostAsync("/api/agents/default/messages", Message("hi"))).ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable, "provider-not-configured");

        problem.Detail().Should().Contain("OPENAI_API_KEY").And.Contain("ANTHROPIC_API_KEY").And.Contain("AZURE_OPENAI_ENDPOINT");
        problem.GetProperty("environmentVariables").EnumerateArray().Select(e => e.GetString()).Should().Contain(new[] { "OPENAI_API_KEY", "ANTHROPIC_API_KEY" });
    }
}

/// <summary>The app's run event log, except that every read fails (storage unreachable for reads).</summary>
internal sealed class UnreadableRunEventLog(IRunEventLog inner) : IRunEventLog
{
    public const string Failure = "The run event log cannot be read (test).";

    public static void Register(IServiceCollection services)
    {
        ServiceDescriptor original = services.Last(d => d.ServiceType == typeof(IRunEventLog));
        services.Remove(original);
        services.AddSingleton<IRunEventLog>(sp => new UnreadableRunEventLog(original switch
        {
            { ImplementationInstance: IRunEventLog instance } => instance,
            { ImplementationFactory: { } factory } => (IRunEventLog)factory(sp),
            _ => (IRunEventLog)ActivatorUtilities.CreateInstance(sp, original.ImplementationType!),
        }));
    }

    public Task<long> AppendAsync(string runId, IReadOnlyList<NewRunEvent> events, CancellationToken cancellationToken = default) =>
        inner.AppendAsync(runId, events, cancellationToken);

    public Task<IReadOnlyList<RunEvent>> ReadAsync(string runId, long afterSequence, int maxCount = 1000, CancellationToken cancellationToken = default) =>
        Task.FromException<IReadOnlyList<RunEvent>>(new IOException(Failure));

    public Task WaitAsync(string runId, long afterSequence, TimeSpan maxWait, CancellationToken cancellationToken = default) =>
        inner.WaitAsync(runId, afterSequence, maxWait, cancellationToken);

    public Task<bool> DeleteAsync(string runId, CancellationToken cancellationToken = default) => inner.DeleteAsync(runId, cancellationToken);
}
