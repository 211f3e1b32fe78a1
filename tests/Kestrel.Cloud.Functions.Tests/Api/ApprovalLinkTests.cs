using System.Net;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Security;
using Kestrel.Cloud.Functions.Tests.Infrastructure;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class ApprovalLinkTests
{
    private static async Task<(ServerHost Host, FakeAgentRunService Runs, string RunId, PendingApproval Pending)> StartWithApprovalAsync(Action<ServerHostOptions>? configure = null)
    {
        (ServerHost host, FakeAgentRunService runs) = await AgentsApiHost.StartAsync(configure);
        HttpResponseMessage started = await host.Client.PostAsync("/api/agents/default/messages?mode=async", HttpAssertions.Json("{\"message\":\"write a file\"}"));
        string runId = (await started.ShouldBeJsonAsync(HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
        PendingApproval pending = await runs.RequestApprovalAsync(runId, "call_7", "files_write", new { path = "<script>notes.txt" }, host.Clock.GetUtcNow().AddHours(1));
        return (host, runs, runId, pending);
    }

    private static FormUrlEncodedContent Form(string reason = "") => new(new Dictionary<string, string> { ["reason"] = reason });

    private static async Task<string> ShouldBeHtmlAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        string html = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(expected, "the page was {0}", html);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/html");
        response.Headers.CacheControl!.NoStore.Should().BeTrue();
        response.Headers.GetValues("Referrer-Policy").Single().Should().Be("no-referrer");
        return html;
    }

    [Fact]
    public async Task Get_ValidLink_ShowsAConfirmationPageWithoutDeciding_NoApiKeyNeeded()
    {
        var (host, runs, runId, pending) = await StartWithApprovalAsync();
        await using ServerHost _ = host;

        string html = await ShouldBeHtmlAsync(await host.Anonymous.GetAsync(pending.ApproveUrl), HttpStatusCode.OK);

        html.Should().Contain("<form method=\"post\">").And.Contain("Approve this call").And.Contain("files_write");
        html.Should().Contain("&lt;script&gt;notes.txt").And.NotContain("<script>", "everything shown is HTML-encoded");
        using var head = new HttpRequestMessage(HttpMethod.Head, pending.ApproveUrl);
        (await host.Anonymous.SendAsync(head)).StatusCode.Should().Be(HttpStatusCode.OK);
        runs.Decisions.Should().BeEmpty("a GET (or HEAD) never decides: link scanners prefetch links");
        (await host.Client.GetAsync($"/api/runs/{runId}")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Post_ValidApproveLink_DecidesOnce_SecondPostReturns409()
    {
        var (host, runs, runId, pending) = await StartWithApprovalAsync();
        await using ServerHost _ = host;

        string first = await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(pending.ApproveUrl, Form("looks fine")), HttpStatusCode.OK);
        string second = await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(pending.ApproveUrl, Form()), HttpStatusCode.Conflict);

        first.Should().Contain("Approved");
        second.Should().Contain("already used");
        runs.Decisions.Should().ContainSingle().Which.Should().Be((runId, "call_7", new ApprovalDecision(true, "looks fine", "approval link")));
    }

    [Fact]
    public async Task Post_DenyLinkAfterApproveLinkWasUsed_Returns409AndDeliversNothingMore()
    {
        var (host, runs, _, pending) = await StartWithApprovalAsync();
        await using ServerHost __ = host;

        await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(pending.DenyUrl, Form()), HttpStatusCode.OK);
        await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(pending.ApproveUrl, Form()), HttpStatusCode.Conflict);
        await ShouldBeHtmlAsync(await host.Anonymous.GetAsync(pending.ApproveUrl), HttpStatusCode.Conflict);

        runs.Decisions.Should().ContainSingle().Which.Decision.Approved.Should().BeFalse();
    }

    [Fact]
    public async Task Post_LinkAfterTheApiDecided_Returns409()
    {
        var (host, runs, runId, pending) = await StartWithApprovalAsync();
        await using ServerHost _ = host;
        await (await host.Client.PostAsync($"/api/runs/{runId}/approvals/call_7", HttpAssertions.Json("{\"decision\":\"deny\"}"))).ShouldBeJsonAsync(HttpStatusCode.OK);

        await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(pending.ApproveUrl, Form()), HttpStatusCode.Conflict);

        runs.Decisions.Should().ContainSingle();
    }

    [Fact]
    public async Task GetAndPost_ExpiredLink_Return410AndDecideNothing()
    {
        var (host, runs, _, pending) = await StartWithApprovalAsync();
        await using ServerHost __ = host;
        host.Clock.Advance(TimeSpan.FromHours(1));

        string page = await ShouldBeHtmlAsync(await host.Anonymous.GetAsync(pending.ApproveUrl), HttpStatusCode.Gone);
        await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(pending.ApproveUrl, Form()), HttpStatusCode.Gone);

        page.Should().Contain("expired");
        runs.Decisions.Should().BeEmpty();
    }

    [Fact]
    public async Task Post_ForgedOrMalformedLink_Returns400AndDecidesNothing()
    {
        var (host, runs, _, pending) = await StartWithApprovalAsync();
        await using ServerHost __ = host;
        string approve = pending.ApproveUrl!;
        string deny = pending.DenyUrl!;
        // The deny link's payload with the approve link's signature: each part is genuine, the pair is not.
        string forged = approve[..approve.LastIndexOf('/')] + "/" + deny[(deny.LastIndexOf('/') + 1)..deny.LastIndexOf('.')] + approve[approve.LastIndexOf('.')..];

        string page = await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(forged, Form()), HttpStatusCode.BadRequest);
        await ShouldBeHtmlAsync(await host.Anonymous.GetAsync(forged), HttpStatusCode.BadRequest);
        await ShouldBeHtmlAsync(await host.Anonymous.PostAsync("/api/approvals/not-a-token", Form()), HttpStatusCode.BadRequest);

        page.Should().Contain("not valid");
        runs.Decisions.Should().BeEmpty();
        host.Logs.WithEventId(2044).Should().HaveCount(3);
    }

    [Fact]
    public async Task Post_SecondClickBeforeTheRunAppliedTheFirst_Returns409FromTheLedger()
    {
        var (host, runs, runId, pending) = await StartWithApprovalAsync();
        await using ServerHost _ = host;
        runs.PendingViewLags = true;

        await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(pending.ApproveUrl, Form()), HttpStatusCode.OK);
        await ShouldBeHtmlAsync(await host.Anonymous.PostAsync(pending.DenyUrl, Form()), HttpStatusCode.Conflict);
        await (await host.Client.PostAsync($"/api/runs/{runId}/approvals/call_7", HttpAssertions.Json("{\"decision\":\"deny\"}")))
            .ShouldBeProblemAsync(HttpStatusCode.Conflict, "approval-not-pending");

        runs.Decisions.Should().ContainSingle("the run still lists the call, so only the ledger can refuse the later decisions");
    }

    [Fact]
    public async Task Post_TwoClicksAtOnce_ExactlyOneDecides()
    {
        var (host, runs, _, pending) = await StartWithApprovalAsync();
        await using ServerHost __ = host;

        HttpResponseMessage[] answers = await Task.WhenAll(
            host.Anonymous.PostAsync(pending.ApproveUrl, Form()),
            host.Anonymous.PostAsync(pending.DenyUrl, Form()),
            host.Anonymous.PostAsync(pending.ApproveUrl, Form()));

        answers.Select(a => a.StatusCode).Should().BeEquivalentTo(new[] { HttpStatusCode.OK, HttpStatusCode.Conflict, HttpStatusCode.Conflict });
        runs.Decisions.Should().ContainSingle();
    }

    [Fact]
    public async Task Post_LinkSignedByAnotherServer_Returns400()
    {
        var (host, runs, _, pending) = await StartWithApprovalAsync(o => o.Args.Add("--KestrelCloud:Approvals:SigningKey=first-signing-key-0123456789abcdef0123"));
        await using ServerHost _ = host;
        var (other, _, _, otherPending) = await StartWithApprovalAsync(o => o.Args.Add("--KestrelCloud:Approvals:SigningKey=other-signing-key-0123456789abcdef0123"));
        await using ServerHost __ = other;
        string token = otherPending.ApproveUrl![(otherPending.ApproveUrl!.LastIndexOf('/') + 1)..];

        await ShouldBeHtmlAsync(await host.Anonymous.PostAsync("/api/approvals/" + token, Form()), HttpStatusCode.BadRequest);

        runs.Decisions.Should().BeEmpty();
        pending.ApproveUrl.Should().NotEndWith(token);
    }

    [Fact]
    public async Task SigningKey_NotConfigured_IsGeneratedOwnerOnlyAndReusedByTheNextStart()
    {
        var (host, _, _, pending) = await StartWithApprovalAsync();
        string dataPath = host.DataPath;
        string keyFile = Path.Combine(dataPath, ApprovalSigningKey.KeyFileName);
        File.Exists(keyFile).Should().BeTrue();
        string key = File.ReadAllText(keyFile).Trim();
        host.Logs.WithEventId(2040).Should().ContainSingle().Which.Message.Should().Contain(keyFile).And.NotContain(key);
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(keyFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        using var keep = new Kestrel.Cloud.Testing.TempDirectory("kestrel-approval-key");
        File.Copy(keyFile, Path.Combine(keep.Path, ApprovalSigningKey.KeyFileName));
        await host.DisposeAsync();

        // A second server over a data folder holding the same key accepts the first one's signature (the run is gone, so 404).
        (ServerHost next, FakeAgentRunService _) = await AgentsApiHost.StartAsync(o => o.DataPath = keep.Path);
        await using ServerHost __ = next;
        string token = pending.ApproveUrl![(pending.ApproveUrl!.LastIndexOf('/') + 1)..];
        await ShouldBeHtmlAsync(await next.Anonymous.GetAsync("/api/approvals/" + token), HttpStatusCode.NotFound);
    }
}
