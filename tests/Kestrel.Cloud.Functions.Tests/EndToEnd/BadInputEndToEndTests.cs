using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing.Scripted;

namespace Kestrel.Cloud.Functions.Tests.EndToEnd;

/// <summary>
/// Bad input against the real engine and run service: each answers its documented 4xx problem (never a 500), and
/// nothing reaches the model. The server's body limit is 2048 bytes here.
/// </summary>
public sealed class BadInputEndToEndTests : IAsyncLifetime
{
    private EndToEndHost e2e = null!;

    public async Task InitializeAsync() =>
        this.e2e = await EndToEndHost.StartAsync(o => o.Args.Add("--KestrelCloud:Http:MaxRequestBodySizeBytes=2048"));

    public async Task DisposeAsync()
    {
        // No request of these tests may have reached the unhandled-exception path (event 2020, the 500 answer).
        this.e2e.Host.Logs.WithEventId(2020).Should().BeEmpty();
        await this.e2e.DisposeAsync();
    }

    [Fact]
    public async Task PostMessage_UnknownAgent_Returns404AgentNotFound()
    {
        HttpResponseMessage response = await this.e2e.PostMessageAsync("hello", "mode=wait", agent: "no-such-agent");

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "agent-not-found");
        problem.Detail().Should().Contain("no-such-agent");
        this.e2e.Model.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task PostMessage_MalformedJson_Returns400InvalidJson()
    {
        HttpResponseMessage response = await this.e2e.Client.PostAsync(
            "/api/agents/default/messages?mode=wait", HttpAssertions.Json("{\"message\": \"hi\""), EndToEndHost.Deadline());

        await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-json");
        this.e2e.Model.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task PostMessage_EmptyMessage_Returns400InvalidFieldMessage()
    {
        HttpResponseMessage response = await this.e2e.PostMessageAsync(string.Empty, "mode=wait");

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-field");
        problem.GetProperty("field").GetString().Should().Be("message");
        this.e2e.Model.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task PostMessage_BodyOverTheLimit_Returns413PayloadTooLarge()
    {
        HttpResponseMessage response = await this.e2e.PostMessageAsync(new string('x', 3000), "mode=wait");

        await response.ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        this.e2e.Model.Requests.Should().BeEmpty();
    }

    /// <summary>A decision for a call the run never made answers 409 and leaves the run as it was; an unknown run 404.</summary>
    [Fact]
    public async Task Decide_UnknownCallOrRun_Returns409Or404()
    {
        this.e2e.Model.Enqueue(TurnWire.Text("done"));
        JsonElement done = await (await this.e2e.PostMessageAsync("hi", "mode=wait")).ShouldBeJsonAsync(HttpStatusCode.OK);
        string runId = done.GetProperty("runId").GetString()!;
        StringContent Approve() => HttpAssertions.Json("""{"decision":"approve"}""");

        await (await this.e2e.Client.PostAsync($"/api/runs/{runId}/approvals/call_unknown", Approve(), EndToEndHost.Deadline()))
            .ShouldBeProblemAsync(HttpStatusCode.Conflict, "approval-not-pending");
        await (await this.e2e.Client.PostAsync("/api/runs/run.default.00000000000000000000000000000000/approvals/call_1", Approve(), EndToEndHost.Deadline()))
            .ShouldBeProblemAsync(HttpStatusCode.NotFound, "run-not-found");
        await (await this.e2e.Client.PostAsync($"/api/runs/{runId}/approvals/call_unknown", HttpAssertions.Json("""{"decision":"maybe"}"""), EndToEndHost.Deadline()))
            .ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-field");
        (await this.e2e.GetRunAsync(runId)).GetProperty("status").GetString().Should().Be("Completed");
        this.e2e.Model.Requests.Should().HaveCount(1);
    }
}
