using Kestrel.Cloud.Agents.Tests.Support;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Http;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tests.Tools.Http;

public class HttpFetchToolTests
{
    private static readonly ToolInvocationContext Context = new("bot", Path.GetTempPath());

    private static HttpFetchTool Tool(IHostResolver? resolver = null, TimeProvider? clock = null, int? maxBytes = null, int? maxRedirects = null, TimeSpan? timeout = null, params string[] allowed)
    {
        var options = new HttpFetchOptions { AllowedHosts = allowed.ToList() };
        options.MaxResponseSizeBytes = maxBytes ?? options.MaxResponseSizeBytes;
        options.MaxRedirects = maxRedirects ?? options.MaxRedirects;
        options.Timeout = timeout ?? options.Timeout;
        return new HttpFetchTool(Options.Create(options), resolver, clock);
    }

    private static Task<ToolResult> Fetch(HttpFetchTool tool, object args) => tool.InvokeAsync(Json.Args(args), Context, CancellationToken.None);

    [Fact]
    public async Task Fetch_AllowlistedLoopbackServer_ReturnsStatusTypeAndBody()
    {
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(200, "hello from the server", ("Content-Type", "text/plain; charset=utf-8")));
        using HttpFetchTool tool = Tool(allowed: server.Authority);

        ToolResult result = await Fetch(tool, new { url = server.Url("/page").ToString() });

        result.Should().Be(new ToolResult("HTTP 200 OK\nContent-Type: text/plain; charset=utf-8\n\nhello from the server"));
        server.Requests.Single().Target.Should().Be("/page");
        server.Requests.Single().Headers["User-Agent"].Should().Be("Kestrel.Cloud-http_fetch/1.0");
    }

    [Fact]
    public async Task Fetch_LoopbackNotAllowlisted_RefusedAndServerNeverContacted()
    {
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(200, "secret"));
        using HttpFetchTool tool = Tool();

        ToolResult result = await Fetch(tool, new { url = server.Url().ToString() });

        result.IsError.Should().BeTrue();
        result.Text.Should().Be($"Refused to fetch {server.Url()}: 127.0.0.1 is a loopback address; only public internet addresses can be fetched (an administrator can allow specific hosts with AllowedHosts).");
        server.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task Fetch_Name_ConnectsToTheAddressTheGuardVetted()
    {
        // "site.test" exists only in the fake resolver: the request can only succeed if the connection goes to
        // the vetted address rather than through a second (system) DNS lookup.
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(200, "via vetted address"));
        var resolver = new FakeHostResolver().Add("site.test", "127.0.0.1");
        using HttpFetchTool tool = Tool(resolver, allowed: $"site.test:{server.Port}");

        ToolResult result = await Fetch(tool, new { url = $"http://site.test:{server.Port}/" });

        result.Text.Should().EndWith("via vetted address");
        server.Requests.Single().Headers["Host"].Should().Be($"site.test:{server.Port}");
        resolver.Lookups.Should().Equal("site.test");
    }

    [Fact]
    public async Task Fetch_RedirectToMetadataEndpoint_Refused()
    {
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(302, "", ("Location", "http://169.254.169.254/latest/meta-data/iam/")));
        using HttpFetchTool tool = Tool(allowed: server.Authority);

        ToolResult result = await Fetch(tool, new { url = server.Url("/start").ToString() });

        result.IsError.Should().BeTrue();
        result.Text.Should().Be($"Refused to fetch http://169.254.169.254/latest/meta-data/iam/ (reached by redirect 1 from {server.Url("/start")}): 169.254.169.254 is a cloud metadata endpoint; it is never fetched, even for allowed hosts.");
    }

    [Fact]
    public async Task Fetch_RedirectToAnotherLoopbackPort_RefusedAndOtherServerNeverContacted()
    {
        await using var other = new LoopbackHttpServer(LoopbackHttpServer.Respond(200, "internal admin"));
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(307, "", ("Location", other.Url("/admin").ToString())));
        using HttpFetchTool tool = Tool(allowed: server.Authority);

        ToolResult result = await Fetch(tool, new { url = server.Url().ToString() });

        result.IsError.Should().BeTrue();
        result.Text.Should().StartWith($"Refused to fetch {other.Url("/admin")} (reached by redirect 1 from {server.Url()}): 127.0.0.1 is a loopback address");
        other.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task Fetch_RedirectToNumericSpellingOfLoopback_Refused()
    {
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(301, "", ("Location", "http://0x7f.1:80/")));
        using HttpFetchTool tool = Tool(allowed: server.Authority);

        ToolResult result = await Fetch(tool, new { url = server.Url().ToString() });

        result.Text.Should().Contain("(reached by redirect 1 from").And.Contain("a loopback address");
    }

    [Fact]
    public async Task Fetch_RedirectWithinAllowedHost_FollowedAndReported()
    {
        await using var server = new LoopbackHttpServer((request, stream, ct) => request.Target == "/final"
            ? LoopbackHttpServer.WriteResponseAsync(stream, 200, "arrived", Array.Empty<(string, string)>(), ct)
            : LoopbackHttpServer.WriteResponseAsync(stream, 302, "", new[] { ("Location", "/final") }, ct));
        using HttpFetchTool tool = Tool(allowed: server.Authority);

        ToolResult result = await Fetch(tool, new { url = server.Url("/start").ToString() });

        result.Text.Should().Be($"HTTP 200 OK\nFinal URL: {server.Url("/final")} (after 1 redirect from {server.Url("/start")})\nContent-Type: text/plain; charset=utf-8\n\narrived");
    }

    [Fact]
    public async Task Fetch_PostThen303_BodySentOnceThenGet()
    {
        await using var server = new LoopbackHttpServer((request, stream, ct) => request.Method == "POST"
            ? LoopbackHttpServer.WriteResponseAsync(stream, 303, "", new[] { ("Location", "/result") }, ct)
            : LoopbackHttpServer.WriteResponseAsync(stream, 200, "created", Array.Empty<(string, string)>(), ct));
        using HttpFetchTool tool = Tool(allowed: server.Authority);

        ToolResult result = await Fetch(tool, new { url = server.Url("/items").ToString(), method = "POST", body = "{\"name\":\"x\"}" });

        result.Text.Should().EndWith("created");
        server.Requests.Select(r => $"{r.Method} {r.Target} {r.Body}").Should().Equal("POST /items {\"name\":\"x\"}", "GET /result ");
        server.Requests[0].Headers["Content-Type"].Should().StartWith("application/json");
    }

    [Fact]
    public async Task Fetch_CrossOriginRedirect_DropsAuthorization()
    {
        await using var second = new LoopbackHttpServer(LoopbackHttpServer.Respond(200, "second"));
        await using var first = new LoopbackHttpServer(LoopbackHttpServer.Respond(302, "", ("Location", second.Url().ToString())));
        using HttpFetchTool tool = Tool(allowed: new[] { first.Authority, second.Authority });

        await Fetch(tool, new { url = first.Url().ToString(), headers = new Dictionary<string, string> { ["Authorization"] = "Bearer token", ["X-Trace"] = "1" } });

        first.Requests.Single().Headers.Should().ContainKey("Authorization");
        second.Requests.Single().Headers.Should().NotContainKey("Authorization").And.ContainKey("X-Trace");
    }

    [Fact]
    public async Task Fetch_TooManyRedirects_StopsAtLimit()
    {
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(302, "", ("Location", "/again")));
        using HttpFetchTool tool = Tool(maxRedirects: 2, allowed: server.Authority);

        ToolResult result = await Fetch(tool, new { url = server.Url().ToString() });

        result.Text.Should().Be($"The fetch of {server.Url()} stopped after 2 redirects (the limit); the last one pointed to {server.Url("/again")}.");
        server.Requests.Should().HaveCount(3);
    }

    [Fact]
    public async Task Fetch_OversizedResponse_CutAtLimitWithNote()
    {
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(200, new string('a', 5000)));
        using HttpFetchTool tool = Tool(maxBytes: 1000, allowed: server.Authority);

        ToolResult result = await Fetch(tool, new { url = server.Url().ToString() });

        result.IsTruncated.Should().BeTrue();
        result.Text.Should().Be($"HTTP 200 OK\nContent-Type: text/plain; charset=utf-8\n\n{new string('a', 1000)}\n\n[response cut at 1,000 bytes, the http_fetch limit; the rest was not downloaded.]");
    }

    [Fact]
    public async Task Fetch_BinaryResponse_NotShown()
    {
        await using var server = new LoopbackHttpServer(LoopbackHttpServer.Respond(200, "PNG\0data", ("Content-Type", "image/png")));
        using HttpFetchTool tool = Tool(allowed: server.Authority);

        (await Fetch(tool, new { url = server.Url().ToString() })).Text.Should().Be("HTTP 200 OK\nContent-Type: image/png\n\n[binary content, 8 bytes, not shown]");
    }

    [Fact]
    public async Task Fetch_ServerNeverAnswers_StopsAtConfiguredTimeoutOnFakeClock()
    {
        var clock = new ManualTimeProvider();
        await using var server = new LoopbackHttpServer((_, _, ct) => Task.Delay(Timeout.Infinite, ct));
        using HttpFetchTool tool = Tool(clock: clock, timeout: TimeSpan.FromSeconds(2), allowed: server.Authority);

        Task<ToolResult> fetch = Fetch(tool, new { url = server.Url().ToString() });
        await server.FirstRequest;
        clock.Advance(TimeSpan.FromSeconds(1));
        fetch.IsCompleted.Should().BeFalse();
        clock.Advance(TimeSpan.FromSeconds(1));
        ToolResult result = await fetch;

        result.Should().Be(ToolResult.Error($"The fetch of {server.Url()} did not finish within 2s and was stopped."));
    }

    [Theory]
    [InlineData("ftp://example.com/", "Refused to fetch ftp://example.com/: only http and https URLs can be fetched (found ftp).")]
    [InlineData("http://[::ffff:7f00:1]/", "Refused to fetch http://[::ffff:127.0.0.1]/: ::ffff:127.0.0.1 is 127.0.0.1 (IPv4-mapped), a loopback address; only public internet addresses can be fetched (an administrator can allow specific hosts with AllowedHosts).")]
    public async Task Fetch_RefusedUrl_ToolErrorForModel(string url, string expected)
    {
        using HttpFetchTool tool = Tool();

        (await Fetch(tool, new { url })).Should().Be(ToolResult.Error(expected));
    }

    [Theory]
    [InlineData("{\"url\":\"not a url\"}", "'not a url' is not an absolute URL; give a full URL such as https://example.com/page.")]
    [InlineData("{\"url\":\"https://example.com\",\"method\":\"DELETE\"}", "The argument 'method' must be GET or POST (found \"DELETE\").")]
    [InlineData("{\"url\":\"https://example.com\",\"body\":\"x\"}", "A GET request has no body; use method POST to send one.")]
    [InlineData("{\"url\":\"https://example.com\",\"headers\":{\"Host\":\"evil\"}}", "The header 'Host' cannot be set; http_fetch sets it itself.")]
    [InlineData("{\"url\":\"https://example.com\",\"headers\":{\"X-A\":\"a\\r\\nX-B: b\"}}", "The header 'X-A' is not valid: names are visible ASCII without ':', values one line of at most 4096 characters.")]
    public async Task Fetch_BadArguments_ToolException(string json, string message)
    {
        using HttpFetchTool tool = Tool();

        var ex = await Assert.ThrowsAsync<ToolException>(() => tool.InvokeAsync(System.Text.Json.JsonDocument.Parse(json).RootElement, Context, CancellationToken.None));

        ex.Message.Should().Be(message);
    }
}
