using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Functions.Samples;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class InstanceEndpointsTests
{
    [Fact]
    public async Task ApprovalWorkflow_ApprovalEventRaised_CompletesApprovedWithWhoAndWhy()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await StartApprovalAsync(host, timeoutSeconds: 600);
        await WaitUntilAwaitingAsync(host, id);

        HttpResponseMessage raised = await host.Client.PostAsync(
            $"/api/instances/{id}/raiseEvent/approval", HttpAssertions.Json("""{"approved":true,"by":"ana","reason":"within budget"}"""));

        raised.StatusCode.Should().Be(HttpStatusCode.Accepted);
        await host.WaitForCompletionAsync(id);
        JsonElement status = await (await host.Client.GetAsync($"/api/instances/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        status.GetProperty("runtimeStatus").GetString().Should().Be("Completed");
        status.GetProperty("customStatus").GetString().Should().Be("approved");
        JsonElement output = status.GetProperty("output");
        output.GetProperty("outcome").GetString().Should().Be("approved");
        output.GetProperty("request").GetString().Should().Be("buy a boat");
        output.GetProperty("by").GetString().Should().Be("ana");
        output.GetProperty("reason").GetString().Should().Be("within budget");
        status.GetProperty("input").GetProperty("timeoutSeconds").GetInt32().Should().Be(600);
    }

    [Fact]
    public async Task ApprovalWorkflow_RejectionRaised_CompletesRejected()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await StartApprovalAsync(host, timeoutSeconds: 600);

        (await host.Client.PostAsync($"/api/instances/{id}/raiseEvent/approval", HttpAssertions.Json("""{"approved":false,"by":"bo","reason":"too expensive"}""")))
            .StatusCode.Should().Be(HttpStatusCode.Accepted);

        OrchestrationMetadata done = await host.WaitForCompletionAsync(id);
        ApprovalResult result = done.ReadOutputAs<ApprovalResult>()!;
        result.Outcome.Should().Be("rejected");
        result.By.Should().Be("bo");
        result.Reason.Should().Be("too expensive");
    }

    [Fact]
    public async Task ApprovalWorkflow_NoDecisionAndClockAdvancedPastTimeout_CompletesTimedOut()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        DateTime start = host.Clock.GetUtcNow().UtcDateTime;
        string id = await StartApprovalAsync(host, timeoutSeconds: 300);
        await WaitUntilAwaitingAsync(host, id);

        OrchestrationMetadata done = await AdvanceUntilCompletedAsync(host, id, TimeSpan.FromSeconds(300));

        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        ApprovalResult result = done.ReadOutputAs<ApprovalResult>()!;
        result.Outcome.Should().Be("timed-out");
        result.By.Should().BeNull();
        result.Reason.Should().Be("No decision within 300 seconds.");
        result.DecidedAt.Should().BeOnOrAfter(start.AddSeconds(300));
        done.ReadCustomStatusAs<string>().Should().Be("timed-out");
    }

    [Fact]
    public async Task ApprovalWorkflow_DecisionOneSecondBeforeTimeout_CompletesApproved()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await StartApprovalAsync(host, timeoutSeconds: 300);
        await WaitUntilAwaitingAsync(host, id);

        host.Clock.Advance(TimeSpan.FromSeconds(299));
        (await host.Client.PostAsync($"/api/instances/{id}/raiseEvent/approval", HttpAssertions.Json("""{"approved":true,"by":"cy"}""")))
            .StatusCode.Should().Be(HttpStatusCode.Accepted);

        OrchestrationMetadata done = await host.WaitForCompletionAsync(id);
        done.ReadOutputAs<ApprovalResult>()!.Outcome.Should().Be("approved", "the timer was 1 s short of firing when the decision arrived");
    }

    [Fact]
    public async Task GetInstance_ShowHistory_IncludesHistoryEventsWithTypesAndPayloads()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        JsonElement started = await (await host.Client.PostAsync("/api/orchestrators/HelloSequence", null)).ShouldBeJsonAsync(HttpStatusCode.Accepted);
        string id = started.GetProperty("id").GetString()!;
        await host.WaitForCompletionAsync(id);

        JsonElement status = await (await host.Client.GetAsync($"/api/instances/{id}?showHistory=true&showInput=false")).ShouldBeJsonAsync(HttpStatusCode.OK);

        JsonElement[] history = status.GetProperty("historyEvents").EnumerateArray().ToArray();
        history.Select(e => e.GetProperty("eventType").GetString()).Should().Contain(new[] { "ExecutionStarted", "TaskScheduled", "TaskCompleted", "ExecutionCompleted" });
        history.Where(e => e.GetProperty("eventType").GetString() == "TaskScheduled").Select(e => e.GetProperty("input").GetString())
            .Should().Equal("Tokyo", "Seattle", "London");
        history.First(e => e.GetProperty("eventType").GetString() == "TaskCompleted").GetProperty("result").GetString().Should().Be("Hello Tokyo!");
        status.GetProperty("input").ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Fact]
    public async Task GetInstance_Unknown_Returns404Problem()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.GetAsync("/api/instances/does-not-exist");

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "instance-not-found");
        problem.Detail().Should().Be("No orchestration instance with id 'does-not-exist' exists. Check the id, or list instances to find it.");
    }

    [Fact]
    public async Task GetInstance_BadShowHistory_Returns400NamingParameter()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.GetAsync("/api/instances/x?showHistory=yes");

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-query-parameter");
        problem.Detail().Should().Be("The query parameter 'showHistory' is 'yes'; it must be true or false, for example ?showHistory=true.");
        problem.GetProperty("parameter").GetString().Should().Be("showHistory");
    }

    [Fact]
    public async Task QueryInstances_TopTwo_PagesThroughAllWithTokenInBodyAndHeader()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string[] ids = { "q-1", "q-2", "q-3", "q-4", "q-5" };
        foreach (string id in ids)
        {
            await host.DurableClient.ScheduleNewOrchestrationInstanceAsync("ApprovalWorkflow", null, new StartOrchestrationOptions(id));
        }

        var seen = new List<string>();
        string? token = null;
        int pages = 0;
        do
        {
            string url = "/api/instances?top=2&instanceIdPrefix=q-" + (token is null ? string.Empty : "&continuationToken=" + Uri.EscapeDataString(token));
            HttpResponseMessage response = await host.Client.GetAsync(url);
            JsonElement page = await response.ShouldBeJsonAsync(HttpStatusCode.OK);
            seen.AddRange(page.GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("instanceId").GetString()!));
            token = page.GetProperty("continuationToken").GetString();
            if (token is null)
            {
                response.Headers.Contains("x-ms-continuation-token").Should().BeFalse();
            }
            else
            {
                response.Headers.GetValues("x-ms-continuation-token").Should().Equal(token);
            }

            pages++;
        }
        while (token is not null && pages < 10);

        seen.Should().Equal(ids);
        pages.Should().Be(3);
    }

    [Fact]
    public async Task QueryInstances_TokenInRequestHeader_ReturnsNextPage()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        foreach (string id in new[] { "h-1", "h-2", "h-3" })
        {
            await host.DurableClient.ScheduleNewOrchestrationInstanceAsync("ApprovalWorkflow", null, new StartOrchestrationOptions(id));
        }

        HttpResponseMessage first = await host.Client.GetAsync("/api/instances?top=2");
        string token = first.Headers.GetValues("x-ms-continuation-token").Single();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/instances?top=2");
        request.Headers.Add("x-ms-continuation-token", token);
        JsonElement second = await (await host.Client.SendAsync(request)).ShouldBeJsonAsync(HttpStatusCode.OK);

        second.GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("instanceId").GetString()).Should().Equal("h-3");
    }

    [Fact]
    public async Task QueryInstances_StatusAndNamePrefixFilters_ReturnOnlyMatches()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string hello = await host.DurableClient.ScheduleNewOrchestrationInstanceAsync("HelloSequence", null, new StartOrchestrationOptions("f-hello"));
        await host.WaitForCompletionAsync(hello);
        string approval = await StartApprovalAsync(host, 600, "f-approval");
        await WaitUntilAwaitingAsync(host, approval);

        JsonElement completed = await (await host.Client.GetAsync("/api/instances?runtimeStatus=completed,Failed&showInput=true")).ShouldBeJsonAsync(HttpStatusCode.OK);
        JsonElement byName = await (await host.Client.GetAsync("/api/instances?namePrefix=appr")).ShouldBeJsonAsync(HttpStatusCode.OK);
        JsonElement byTime = await (await host.Client.GetAsync("/api/instances?createdTimeFrom=2026-01-01T00:00:01Z")).ShouldBeJsonAsync(HttpStatusCode.OK);

        JsonElement only = completed.GetProperty("instances").EnumerateArray().Should().ContainSingle().Subject;
        only.GetProperty("instanceId").GetString().Should().Be("f-hello");
        only.GetProperty("output").GetArrayLength().Should().Be(3);
        byName.GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("instanceId").GetString()).Should().Equal("f-approval");
        byName.GetProperty("instances")[0].GetProperty("input").ValueKind.Should().Be(JsonValueKind.Null, "showInput defaults to false for queries");
        byTime.GetProperty("instances").GetArrayLength().Should().Be(0, "both were created at the clock's start, 2026-01-01T00:00:00Z");
    }

    [Theory]
    [InlineData("top=0", "top", "The query parameter 'top' is '0'; it must be a whole number from 1 to 1000, for example ?top=10.")]
    [InlineData("top=many", "top", "The query parameter 'top' is 'many'; it must be a whole number from 1 to 1000, for example ?top=10.")]
    [InlineData("runtimeStatus=Running,Sleeping", "runtimeStatus", "The query parameter 'runtimeStatus' contains 'Sleeping', which is not a runtime status. Use a comma-separated list of Pending, Running, Completed, ContinuedAsNew, Failed, Terminated, Suspended, for example ?runtimeStatus=Running,Pending.")]
    [InlineData("createdTimeFrom=yesterday", "createdTimeFrom", "The query parameter 'createdTimeFrom' is 'yesterday'; it must be an ISO 8601 timestamp such as 2026-01-31T12:00:00Z (URL-encode '+' in an offset as %2B).")]
    [InlineData("createdTimeFrom=2026-02-01T00:00:00Z&createdTimeTo=2026-01-01T00:00:00Z", "createdTimeTo", "The query parameter 'createdTimeTo' (2026-01-01T00:00:00.0000000+00:00) is earlier than 'createdTimeFrom' (2026-02-01T00:00:00.0000000+00:00); swap them or widen the range.")]
    [InlineData("continuationToken=not-a-token", "continuationToken", "The continuation token is not valid. Pass the continuationToken (or x-ms-continuation-token header) of the previous page unchanged, or omit it for the first page.")]
    [InlineData("top=1&top=2", "top", "The query parameter 'top' is given 2 times; give it once.")]
    public async Task QueryInstances_BadParameter_Returns400NamingIt(string queryString, string parameter, string detail)
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.GetAsync("/api/instances?" + queryString);

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-query-parameter");
        problem.Detail().Should().Be(detail);
        problem.GetProperty("parameter").GetString().Should().Be(parameter);
    }

    [Fact]
    public async Task QueryInstances_StoreThrowsUnexpectedly_Returns500WithCorrelationIdOnly()
    {
        FaultyStore? store = null;
        await using ServerHost host = await ServerHost.StartAsync(o => o.ConfigureServices = s =>
            s.AddSingleton<Kestrel.Cloud.Durable.Storage.IOrchestrationStore>(sp => store = new FaultyStore(sp.GetRequiredService<TimeProvider>())));
        store!.ClientReadFailure = new InvalidCastException("secret connection string=abc");

        HttpResponseMessage response = await host.Client.GetAsync("/api/instances");

        string text = await response.Content.ReadAsStringAsync();
        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.InternalServerError, "internal-error");
        text.Should().NotContain("secret").And.NotContain("InvalidCast");
        string correlationId = problem.GetProperty("correlationId").GetString()!;
        problem.Detail().Should().Contain("report the correlationId to the operator");
        host.Logs.WithEventId(2020).Should().ContainSingle().Which.Message.Should().Contain(correlationId);
    }

    [Fact]
    public async Task Terminate_RunningInstance_Returns202AndInstanceBecomesTerminatedWithReason()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await StartApprovalAsync(host, timeoutSeconds: 600);
        await WaitUntilAwaitingAsync(host, id);

        HttpResponseMessage response = await host.Client.PostAsync($"/api/instances/{id}/terminate?reason=no%20longer%20needed", null);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        OrchestrationMetadata done = await host.WaitForCompletionAsync(id);
        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Terminated);
        JsonElement status = await (await host.Client.GetAsync($"/api/instances/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        status.GetProperty("runtimeStatus").GetString().Should().Be("Terminated");
        status.GetProperty("output").GetString().Should().Be("no longer needed");
    }

    [Fact]
    public async Task Terminate_UnknownInstance_Returns404Problem()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/instances/ghost/terminate", null);

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "instance-not-found");
        problem.Detail().Should().Contain("'ghost'");
    }

    [Fact]
    public async Task RaiseEvent_FinishedInstance_Returns410SayingStartANewOne()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await host.DurableClient.ScheduleNewOrchestrationInstanceAsync("HelloSequence");
        await host.WaitForCompletionAsync(id);

        HttpResponseMessage response = await host.Client.PostAsync($"/api/instances/{id}/raiseEvent/approval", HttpAssertions.Json("{}"));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.Gone, "instance-finished");
        problem.Detail().Should().Be($"Instance '{id}' is Completed, so it can no longer receive events. Start a new instance instead (POST /api/orchestrators/HelloSequence).");
    }

    [Fact]
    public async Task RaiseEvent_MalformedJson_Returns400AndDeliversNothing()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await StartApprovalAsync(host, timeoutSeconds: 600);
        await WaitUntilAwaitingAsync(host, id);

        HttpResponseMessage response = await host.Client.PostAsync($"/api/instances/{id}/raiseEvent/approval", HttpAssertions.Json("{\"approved\":tru}"));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-json");
        problem.Detail().Should().Contain("(line 1, byte 16)", "the reader notices the bad literal at the closing brace");
        (await host.DurableClient.GetInstanceAsync(id))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
    }

    [Fact]
    public async Task SuspendThenResume_EventRaisedWhileSuspended_IsAppliedAfterResume()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await StartApprovalAsync(host, timeoutSeconds: 600);
        await WaitUntilAwaitingAsync(host, id);

        (await host.Client.PostAsync($"/api/instances/{id}/suspend?reason=audit", null)).StatusCode.Should().Be(HttpStatusCode.Accepted);
        await host.WaitForInstanceAsync(id, m => m.RuntimeStatus == OrchestrationRuntimeStatus.Suspended);
        (await host.Client.PostAsync($"/api/instances/{id}/raiseEvent/approval", HttpAssertions.Json("""{"approved":true,"by":"dee"}""")))
            .StatusCode.Should().Be(HttpStatusCode.Accepted);
        JsonElement suspended = await (await host.Client.GetAsync($"/api/instances/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        (await host.Client.PostAsync($"/api/instances/{id}/resume?reason=done", null)).StatusCode.Should().Be(HttpStatusCode.Accepted);

        suspended.GetProperty("runtimeStatus").GetString().Should().Be("Suspended");
        OrchestrationMetadata done = await host.WaitForCompletionAsync(id);
        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        done.ReadOutputAs<ApprovalResult>()!.By.Should().Be("dee");
    }

    [Fact]
    public async Task Purge_RunningInstance_Returns409AndKeepsIt()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await StartApprovalAsync(host, timeoutSeconds: 600);
        await WaitUntilAwaitingAsync(host, id);

        HttpResponseMessage response = await host.Client.DeleteAsync($"/api/instances/{id}");

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.Conflict, "instance-running");
        problem.Detail().Should().Be(
            $"Instance '{id}' is Running; only finished instances can be purged. Terminate it first (POST /api/instances/{id}/terminate), then purge it.");
        (await host.DurableClient.GetInstanceAsync(id)).Should().NotBeNull();
    }

    [Fact]
    public async Task Purge_CompletedInstance_Returns200WithCountThen404()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string id = await host.DurableClient.ScheduleNewOrchestrationInstanceAsync("HelloSequence");
        await host.WaitForCompletionAsync(id);

        JsonElement purged = await (await host.Client.DeleteAsync($"/api/instances/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        HttpResponseMessage again = await host.Client.DeleteAsync($"/api/instances/{id}");

        purged.GetProperty("instancesDeleted").GetInt32().Should().Be(1);
        await again.ShouldBeProblemAsync(HttpStatusCode.NotFound, "instance-not-found");
        (await host.DurableClient.GetInstanceAsync(id)).Should().BeNull();
    }

    [Fact]
    public async Task PurgeByFilter_CompletedStatus_DeletesFinishedAndKeepsRunning()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string hello = await host.DurableClient.ScheduleNewOrchestrationInstanceAsync("HelloSequence");
        await host.WaitForCompletionAsync(hello);
        string running = await StartApprovalAsync(host, timeoutSeconds: 600);
        await WaitUntilAwaitingAsync(host, running);

        JsonElement purged = await (await host.Client.DeleteAsync("/api/instances?runtimeStatus=Completed&createdTimeFrom=2025-01-01T00:00:00Z"))
            .ShouldBeJsonAsync(HttpStatusCode.OK);

        purged.GetProperty("instancesDeleted").GetInt32().Should().Be(1);
        (await host.DurableClient.GetInstanceAsync(hello)).Should().BeNull();
        (await host.DurableClient.GetInstanceAsync(running)).Should().NotBeNull();
    }

    [Theory]
    [InlineData("", "createdTimeFrom", "Purging by filter needs at least one of createdTimeFrom, createdTimeTo or runtimeStatus")]
    [InlineData("?runtimeStatus=Running", "runtimeStatus", "The query parameter 'runtimeStatus' contains Running; only finished instances can be purged.")]
    public async Task PurgeByFilter_BadFilter_Returns400(string queryString, string parameter, string detailStart)
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.DeleteAsync("/api/instances" + queryString);

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-query-parameter");
        problem.Detail().Should().StartWith(detailStart);
        problem.GetProperty("parameter").GetString().Should().Be(parameter);
    }

    private static async Task<string> StartApprovalAsync(ServerHost host, int timeoutSeconds, string? instanceId = null)
    {
        string url = "/api/orchestrators/ApprovalWorkflow" + (instanceId is null ? string.Empty : "/" + instanceId);
        HttpResponseMessage response = await host.Client.PostAsync(url, HttpAssertions.Json($$"""{"request":"buy a boat","timeoutSeconds":{{timeoutSeconds}}}"""));
        JsonElement started = await response.ShouldBeJsonAsync(HttpStatusCode.Accepted);
        return started.GetProperty("id").GetString()!;
    }

    private static Task<OrchestrationMetadata> WaitUntilAwaitingAsync(ServerHost host, string id) =>
        host.WaitForInstanceAsync(id, m => m.SerializedCustomStatus == "\"awaiting-approval\"");

    /// <summary>
    /// Moves the clock past the timeout once and waits (bounded) for completion: the idle dispatcher must wake at
    /// the timer's due time, even if the clock moved while it was computing how long to sleep.
    /// </summary>
    private static async Task<OrchestrationMetadata> AdvanceUntilCompletedAsync(ServerHost host, string id, TimeSpan timeout)
    {
        host.Clock.Advance(timeout);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await host.DurableClient.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, wait.Token);
    }
}
