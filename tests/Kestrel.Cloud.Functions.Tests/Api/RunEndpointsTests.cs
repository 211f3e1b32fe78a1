using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Tests.Infrastructure;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class RunEndpointsTests
{
    private static async Task<string> StartRunAsync(ServerHost host, string agent = "default")
    {
        HttpResponseMessage response = await host.Client.PostAsync($"/api/agents/{agent}/messages?mode=async", HttpAssertions.Json("{\"message\":\"hi\"}"));
        return (await response.ShouldBeJsonAsync(HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
    }

    [Fact]
    public async Task GetRun_WaitingForApproval_ShowsPendingApprovalsWithSignedLinksUsageAndCost()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync(o => o.Args.Add("--KestrelCloud:PublicBaseUrl=https://agents.example.com/"));
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.RequestApprovalAsync(runId, "call_1", "files_write", new { path = "a.txt" }, host.Clock.GetUtcNow().AddHours(1));
        runs.SetUsage(runId, new RunUsage(120, 30, 10, 0.0042m));

        JsonElement run = await (await host.Client.GetAsync($"/api/runs/{runId}")).ShouldBeJsonAsync(HttpStatusCode.OK);

        run.GetProperty("status").GetString().Should().Be("WaitingForApproval");
        run.GetProperty("finished").GetBoolean().Should().BeFalse();
        JsonElement pending = run.GetProperty("pendingApprovals").EnumerateArray().Single();
        pending.GetProperty("callId").GetString().Should().Be("call_1");
        pending.GetProperty("tool").GetString().Should().Be("files_write");
        pending.GetProperty("arguments").GetProperty("path").GetString().Should().Be("a.txt");
        pending.GetProperty("approveUrl").GetString().Should().StartWith("https://agents.example.com/api/approvals/");
        pending.GetProperty("denyUrl").GetString().Should().StartWith("https://agents.example.com/api/approvals/")
            .And.NotBe(pending.GetProperty("approveUrl").GetString());
        pending.GetProperty("decidePostUri").GetString().Should().EndWith($"/api/runs/{runId}/approvals/call_1");
        run.GetProperty("usage").GetProperty("inputTokens").GetInt64().Should().Be(120);
        run.GetProperty("usage").GetProperty("costUsd").GetDecimal().Should().Be(0.0042m);
    }

    [Fact]
    public async Task GetRun_Unknown_Returns404()
    {
        (ServerHost host, FakeAgentRunService _) = await AgentsApiHost.StartAsync();
        await using ServerHost __ = host;

        await (await host.Client.GetAsync("/api/runs/run-404")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "run-not-found");
        await (await host.Client.GetAsync("/api/runs/run-404/events")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "run-not-found");
        await (await host.Client.PostAsync("/api/runs/run-404/cancel", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound, "run-not-found");
    }

    [Fact]
    public async Task ListRuns_ByAgentAndStatus_FiltersThem()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        await host.Client.PostAsync("/api/agents", HttpAssertions.Json("{\"name\":\"other\",\"agentMarkdown\":\"Be brief.\"}"));
        string first = await StartRunAsync(host);
        string second = await StartRunAsync(host);
        string third = await StartRunAsync(host, "other");
        await runs.CompleteAsync(second, "ok");

        JsonElement all = await (await host.Client.GetAsync("/api/runs")).ShouldBeJsonAsync(HttpStatusCode.OK);
        JsonElement byAgent = await (await host.Client.GetAsync("/api/runs?agent=default")).ShouldBeJsonAsync(HttpStatusCode.OK);
        JsonElement completed = await (await host.Client.GetAsync("/api/runs?agent=default&status=completed")).ShouldBeJsonAsync(HttpStatusCode.OK);

        static IEnumerable<string?> Ids(JsonElement page) => page.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetString());
        Ids(all).Should().BeEquivalentTo(new[] { first, second, third });
        Ids(byAgent).Should().BeEquivalentTo(new[] { first, second });
        Ids(completed).Should().Equal(second);
        completed.GetProperty("continuationToken").ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Theory]
    [InlineData("status=Sleeping", "status")]
    [InlineData("status=1", "status")]
    [InlineData("agent=NOT_A_NAME", "agent")]
    [InlineData("top=0", "top")]
    [InlineData("continuationToken=garbage", "continuationToken")]
    public async Task ListRuns_BadQuery_Returns400NamingTheParameter(string query, string parameter)
    {
        (ServerHost host, FakeAgentRunService _) = await AgentsApiHost.StartAsync();
        await using ServerHost __ = host;

        JsonElement problem = await (await host.Client.GetAsync("/api/runs?" + query)).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-query-parameter");

        problem.GetProperty("parameter").GetString().Should().Be(parameter);
    }

    [Fact]
    public async Task CancelRun_Live_Returns202AndTheRunEndsCancelled_AgainReturns409()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);

        JsonElement accepted = await (await host.Client.PostAsync($"/api/runs/{runId}/cancel?reason=changed%20my%20mind", null)).ShouldBeJsonAsync(HttpStatusCode.Accepted);

        accepted.GetProperty("cancelRequested").GetBoolean().Should().BeTrue();
        runs.Cancels.Should().ContainSingle().Which.Should().Be((runId, "changed my mind"));
        JsonElement run = await (await host.Client.GetAsync($"/api/runs/{runId}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        run.GetProperty("status").GetString().Should().Be("Cancelled");
        JsonElement problem = await (await host.Client.PostAsync($"/api/runs/{runId}/cancel", null)).ShouldBeProblemAsync(HttpStatusCode.Conflict, "run-finished");
        problem.GetProperty("runStatus").GetString().Should().Be("Cancelled");
    }

    [Fact]
    public async Task Approve_WithApiKey_DeliversOnce_SecondTimeReturns409()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.RequestApprovalAsync(runId, "call_1", "files_write", new { path = "a.txt" }, host.Clock.GetUtcNow().AddHours(1));
        const string body = "{\"decision\":\"approve\",\"reason\":\"fine\",\"by\":\"ana\"}";

        JsonElement ok = await (await host.Client.PostAsync($"/api/runs/{runId}/approvals/call_1", HttpAssertions.Json(body))).ShouldBeJsonAsync(HttpStatusCode.OK);
        ok.GetProperty("outcome").GetString().Should().Be("accepted");
        ok.GetProperty("decision").GetString().Should().Be("approve");
        runs.Decisions.Should().ContainSingle().Which.Decision.Should().Be(new Kestrel.Cloud.Agents.Runs.ApprovalDecision(true, "fine", "ana"));

        await (await host.Client.PostAsync($"/api/runs/{runId}/approvals/call_1", HttpAssertions.Json(body))).ShouldBeProblemAsync(HttpStatusCode.Conflict, "approval-not-pending");
        runs.Decisions.Should().HaveCount(1);
    }

    [Fact]
    public async Task Deny_WithApiKey_DeliversADenial()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.RequestApprovalAsync(runId, "call_1", "shell", new { command = "rm -rf /" }, host.Clock.GetUtcNow().AddHours(1));

        await (await host.Client.PostAsync($"/api/runs/{runId}/approvals/call_1", HttpAssertions.Json("{\"decision\":\"DENY\",\"reason\":\"no\"}"))).ShouldBeJsonAsync(HttpStatusCode.OK);

        runs.Decisions.Should().ContainSingle().Which.Decision.Approved.Should().BeFalse();
    }

    [Fact]
    public async Task Approve_WithoutApiKey_Returns401AndDecidesNothing()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.RequestApprovalAsync(runId, "call_1", "files_write", new { }, host.Clock.GetUtcNow().AddHours(1));

        await (await host.Anonymous.PostAsync($"/api/runs/{runId}/approvals/call_1", HttpAssertions.Json("{\"decision\":\"approve\"}"))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "api-key-missing");

        runs.Decisions.Should().BeEmpty();
    }

    [Theory]
    [InlineData("{\"decision\":\"maybe\"}", "invalid-field")]
    [InlineData("{}", "invalid-field")]
    [InlineData("[1]", "invalid-json")]
    public async Task Approve_BadBody_Returns400(string json, string code)
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);
        await runs.RequestApprovalAsync(runId, "call_1", "files_write", new { }, host.Clock.GetUtcNow().AddHours(1));

        await (await host.Client.PostAsync($"/api/runs/{runId}/approvals/call_1", HttpAssertions.Json(json))).ShouldBeProblemAsync(HttpStatusCode.BadRequest, code);

        runs.Decisions.Should().BeEmpty();
    }

    [Fact]
    public async Task Approve_UnknownRunOrCall_Returns404Or409()
    {
        (ServerHost host, FakeAgentRunService _) = await AgentsApiHost.StartAsync();
        await using ServerHost __ = host;
        string runId = await StartRunAsync(host);

        await (await host.Client.PostAsync("/api/runs/run-404/approvals/call_1", HttpAssertions.Json("{\"decision\":\"approve\"}"))).ShouldBeProblemAsync(HttpStatusCode.NotFound, "run-not-found");
        await (await host.Client.PostAsync($"/api/runs/{runId}/approvals/call_9", HttpAssertions.Json("{\"decision\":\"approve\"}"))).ShouldBeProblemAsync(HttpStatusCode.Conflict, "approval-not-pending");
    }

    [Fact]
    public async Task ApprovalLinks_OnAzureWithoutPublicBaseUrl_UseTheWebsiteHostName()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync(o => o.Args.Add("--WEBSITE_HOSTNAME=myapp.azurewebsites.net"));
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);

        PendingApproval pending = await runs.RequestApprovalAsync(runId, "call_1", "files_write", new { }, host.Clock.GetUtcNow().AddHours(1));

        pending.ApproveUrl.Should().StartWith("https://myapp.azurewebsites.net/api/approvals/");
    }

    [Fact]
    public async Task ApprovalLinks_NoPublicBaseUrl_UseTheListeningUrl()
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync();
        await using ServerHost _ = host;
        string runId = await StartRunAsync(host);

        PendingApproval pending = await runs.RequestApprovalAsync(runId, "call_1", "files_write", new { }, host.Clock.GetUtcNow().AddHours(1));

        pending.ApproveUrl.Should().StartWith(new Uri(host.BaseAddress, "/api/approvals/").ToString());
    }
}
