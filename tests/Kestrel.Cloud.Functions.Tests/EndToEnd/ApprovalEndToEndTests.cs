using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.EndToEnd;

/// <summary>Tool calls that ask a human, decided through the signed links, the API, or not at all (timeout).</summary>
public sealed class ApprovalEndToEndTests
{
    private static FormUrlEncodedContent Form(string reason = "") => new(new Dictionary<string, string> { ["reason"] = reason });

    private static string FilesPath(EndToEndHost e2e, string name) => Path.Join(e2e.Host.DataPath, "agents", "default", "files", name);

    /// <summary>
    /// Proves the one-click link with the real engine: a files_write call parks the run on WaitingForApproval (wait mode
    /// answers 202 then); GET on the
    /// approve link shows a page and decides nothing; POST (no API key) approves, the tool writes the file and the turn
    /// completes; the same link POSTed again answers 409.
    /// </summary>
    [Fact]
    public async Task ApproveLink_GetThenPostWithoutApiKey_ToolRunsAndTurnCompletes_SecondPost409()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync();
        e2e.Model.Enqueue(
            TurnWire.Tools(null, ("call_w", "files_write", """{"path":"out.txt","content":"approved content"}""")),
            TurnWire.Text("I wrote out.txt."));
        // Wait mode answers 202 as soon as the run asks a human, without waiting for the decision.
        JsonElement accepted = await (await e2e.PostMessageAsync("Write out.txt", "mode=wait&wait=60s")).ShouldBeJsonAsync(HttpStatusCode.Accepted);
        accepted.GetProperty("status").GetString().Should().Be("WaitingForApproval");
        string runId = accepted.GetProperty("runId").GetString()!;

        JsonElement requested = EndToEndHost.Data(await e2e.WaitForEventAsync(runId, "approval.requested"));
        JsonElement waiting = await e2e.WaitForStatusAsync(runId, "WaitingForApproval");
        JsonElement pending = waiting.GetProperty("pendingApprovals").EnumerateArray().Should().ContainSingle().Subject;
        pending.GetProperty("callId").GetString().Should().Be("call_w");
        pending.GetProperty("tool").GetString().Should().Be("files_write");
        string approveUrl = pending.GetProperty("approveUrl").GetString()!;
        approveUrl.Should().Be(requested.GetProperty("approveUrl").GetString());
        approveUrl.Should().StartWith(new Uri(e2e.Host.BaseAddress, "/api/approvals/").ToString());

        HttpResponseMessage page = await e2e.Host.Anonymous.GetAsync(approveUrl, EndToEndHost.Deadline());
        page.StatusCode.Should().Be(HttpStatusCode.OK);
        (await page.Content.ReadAsStringAsync()).Should().Contain("files_write").And.Contain("<form method=\"post\">");
        (await e2e.GetRunAsync(runId)).GetProperty("status").GetString().Should().Be("WaitingForApproval", "a GET never decides");
        File.Exists(FilesPath(e2e, "out.txt")).Should().BeFalse();

        HttpResponseMessage decided = await e2e.Host.Anonymous.PostAsync(approveUrl, Form("fine"), EndToEndHost.Deadline());
        string decidedPage = await decided.Content.ReadAsStringAsync();
        decided.StatusCode.Should().Be(HttpStatusCode.OK, decidedPage);
        decidedPage.Should().Contain("Approved");

        List<SseFrame> events = await e2e.ReadAllEventsAsync(runId);
        events.Select(e => e.Event).Should().ContainInOrder("approval.requested", "approval.granted", "tool.result", "run.finished");
        JsonElement result = EndToEndHost.Data(events.Single(e => e.Event == "tool.result"));
        result.GetProperty("isError").GetBoolean().Should().BeFalse(result.GetRawText());
        EndToEndHost.Data(events[^1]).GetProperty("text").GetString().Should().Be("I wrote out.txt.");
        // Right after run.finished (the instance may complete one engine step later) the run reads as Completed.
        (await e2e.GetRunAsync(runId)).GetProperty("status").GetString().Should().Be("Completed");
        (await File.ReadAllTextAsync(FilesPath(e2e, "out.txt"))).Should().Be("approved content");

        HttpResponseMessage again = await e2e.Host.Anonymous.PostAsync(approveUrl, Form(), EndToEndHost.Deadline());
        again.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await again.Content.ReadAsStringAsync()).Should().Contain("already used");
    }

    /// <summary>
    /// Proves a denial through the API (a decision for a call the run did not make answers 409 first and spends
    /// nothing): the model's next request carries a tool error naming the denial and its
    /// reason, the file is not written, the run completes, and a second decision answers 409.
    /// </summary>
    [Fact]
    public async Task DecideApi_Deny_ModelGetsToolErrorAndRunCompletes()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync();
        e2e.Model.Enqueue(
            TurnWire.Tools(null, ("call_d", "files_write", """{"path":"secret.txt","content":"x"}""")),
            TurnWire.Text("Understood, I did not write it."));
        string runId = await e2e.StartRunAsync("Write secret.txt");
        await e2e.WaitForStatusAsync(runId, "WaitingForApproval");
        await (await e2e.Client.PostAsync($"/api/runs/{runId}/approvals/call_other", HttpAssertions.Json("""{"decision":"approve"}"""), EndToEndHost.Deadline()))
            .ShouldBeProblemAsync(HttpStatusCode.Conflict, "approval-not-pending");
        (await e2e.GetRunAsync(runId)).GetProperty("status").GetString().Should().Be("WaitingForApproval", "a decision for another call changes nothing");

        JsonElement decision = await (await e2e.Client.PostAsync(
            $"/api/runs/{runId}/approvals/call_d", HttpAssertions.Json("""{"decision":"deny","reason":"not that file","by":"ana"}"""), EndToEndHost.Deadline()))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        decision.GetProperty("outcome").GetString().Should().Be("accepted");

        List<SseFrame> events = await e2e.ReadAllEventsAsync(runId);
        events.Select(e => e.Event).Should().ContainInOrder("approval.requested", "approval.denied", "tool.result", "run.finished");
        JsonElement finished = EndToEndHost.Data(events[^1]);
        finished.GetProperty("status").GetString().Should().Be("completed");
        finished.GetProperty("text").GetString().Should().Be("Understood, I did not write it.");
        e2e.Model.Requests.Should().HaveCount(2);
        (string role, string text) = TurnWire.Messages(e2e.Model.Requests[1]).Last();
        role.Should().Be("tool");
        text.Should().Contain("denied by ana").And.Contain("not that file");
        File.Exists(FilesPath(e2e, "secret.txt")).Should().BeFalse();
        await (await e2e.Client.PostAsync($"/api/runs/{runId}/approvals/call_d", HttpAssertions.Json("""{"decision":"approve"}"""), EndToEndHost.Deadline()))
            .ShouldBeProblemAsync(HttpStatusCode.Conflict, "approval-not-pending");
    }

    /// <summary>
    /// Proves the approval timeout on the app's clock (ServerHost's ManualTimeProvider drives the engine's durable
    /// timers): once the run waits, moving the clock past ApprovalTimeout appends approval.timedOut, the model gets a
    /// tool error and the run completes.
    /// </summary>
    [Fact]
    public async Task ApprovalTimeout_ClockMovedPastTimeout_TimesOutAsDenialAndRunCompletes()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync(o => o.Args.Add("--KestrelCloud:Agents:ApprovalTimeout=00:05:00"));
        e2e.Model.Enqueue(
            TurnWire.Tools(null, ("call_t", "files_write", """{"path":"late.txt","content":"x"}""")),
            TurnWire.Text("Nobody answered, so I did not write it."));
        string runId = await e2e.StartRunAsync("Write late.txt");
        // WaitingForApproval is committed together with the approval's durable timer, so the timer exists now.
        await e2e.WaitForStatusAsync(runId, "WaitingForApproval");

        e2e.Host.Clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));

        List<SseFrame> events = await e2e.ReadAllEventsAsync(runId);
        events.Select(e => e.Event).Should().ContainInOrder("approval.requested", "approval.timedOut", "tool.result", "run.finished");
        EndToEndHost.Data(events.Single(e => e.Event == "approval.timedOut")).GetProperty("reason").GetString().Should().Contain("No decision within");
        EndToEndHost.Data(events[^1]).GetProperty("status").GetString().Should().Be("completed");
        TurnWire.Messages(e2e.Model.Requests[1]).Last().Text.Should().Contain("No decision within");
        File.Exists(FilesPath(e2e, "late.txt")).Should().BeFalse();
    }

    /// <summary>
    /// Proves the approval's timer ends at the <c>expiresAt</c> the request and its links announced, even when the
    /// request activity took long: the approval.requested append is held while the clock moves 4 of the 5 minutes, and
    /// moving it just past <c>expiresAt</c> afterwards times the call out (the link then answers 410).
    /// </summary>
    [Fact]
    public async Task ApprovalTimeout_RequestActivitySlow_TimesOutAtAnnouncedExpiry()
    {
        await using EndToEndHost e2e = await EndToEndHost.StartAsync(o =>
        {
            o.Args.Add("--KestrelCloud:Agents:ApprovalTimeout=00:05:00");
            o.ConfigureServices = s => GatedRunEventLog.Register(s, RunEventTypes.ApprovalRequested);
        });
        GatedRunEventLog gated = e2e.Host.App.Services.GetRequiredService<GatedRunEventLog>();
        e2e.Model.Enqueue(
            TurnWire.Tools(null, ("call_s", "files_write", """{"path":"slow.txt","content":"x"}""")),
            TurnWire.Text("Timed out."));
        DateTimeOffset start = e2e.Host.Clock.GetUtcNow();
        string runId = await e2e.StartRunAsync("Write slow.txt");
        try
        {
            await e2e.WaitForEventAsync(runId, "approval.requested");
            e2e.Host.Clock.Advance(TimeSpan.FromMinutes(4));
        }
        finally
        {
            gated.Release();
        }

        JsonElement waiting = await e2e.WaitForStatusAsync(runId, "WaitingForApproval");
        JsonElement pending = waiting.GetProperty("pendingApprovals")[0];
        DateTimeOffset expiresAt = pending.GetProperty("expiresAt").GetDateTimeOffset();
        expiresAt.Should().Be(start.AddMinutes(5), "the expiry is announced when the request is made");

        e2e.Host.Clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));

        List<SseFrame> events = await e2e.ReadAllEventsAsync(runId);
        events.Select(e => e.Event).Should().ContainInOrder("approval.requested", "approval.timedOut", "run.finished");
        (await e2e.Host.Anonymous.PostAsync(pending.GetProperty("approveUrl").GetString(), Form(), EndToEndHost.Deadline()))
            .StatusCode.Should().Be(HttpStatusCode.Gone);
    }
}
