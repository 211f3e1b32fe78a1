using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Kestrel.Cloud.Functions.Security;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Functions.Tests.Security;

public class ApiKeyTests
{
    [Fact]
    public async Task ProtectedRoute_NoKey_Returns401SayingHowToSendOne()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Anonymous.GetAsync("/api/instances");

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "api-key-missing");
        problem.Detail().Should().Be(
            "This endpoint requires an API key. Send it in the x-api-key header (curl -H 'x-api-key: <key>') or as 'Authorization: Bearer <key>'. " +
            "Configure keys with KestrelCloud:ApiKeys:0 (environment variable KestrelCloud__ApiKeys__0); when none is configured, the server generates one " +
            "at first start and stores it in api-key.txt in its data folder (the path is in the server log).");
        response.Headers.WwwAuthenticate.Should().ContainSingle().Which.Scheme.Should().Be("Bearer");
    }

    [Theory]
    [InlineData("x-api-key", "wrong-key-0123456789", "the x-api-key header")]
    [InlineData("Authorization", "Bearer wrong-key-0123456789", "the Authorization header")]
    public async Task ProtectedRoute_WrongKey_Returns401NamingWhereItWasSent(string header, string value, string via)
    {
        await using ServerHost host = await ServerHost.StartAsync();
        using HttpClient client = host.CreateClient(h => h.TryAddWithoutValidation(header, value));

        HttpResponseMessage response = await client.PostAsync("/api/orchestrators/HelloSequence", null);

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "api-key-invalid");
        problem.Detail().Should().StartWith($"The API key sent in {via} is not valid. Check it for typos and stray whitespace");
        (await host.DurableClient.QueryInstancesAsync(new Durable.OrchestrationQuery())).Values.Should().BeEmpty();
    }

    [Fact]
    public async Task ProtectedRoute_BasicAuthorization_Returns401AskingForBearer()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        using HttpClient client = host.CreateClient(h => h.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz"));

        HttpResponseMessage response = await client.GetAsync("/api/orchestrators");

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "api-key-invalid");
        problem.Detail().Should().StartWith("The Authorization header must use the Bearer scheme");
    }

    [Fact]
    public async Task ProtectedRoute_BearerKey_IsAccepted()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        using HttpClient client = host.CreateClient(h => h.Authorization = new AuthenticationHeaderValue("Bearer", ServerHost.ApiKey));

        HttpResponseMessage response = await client.GetAsync("/api/orchestrators");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ProtectedRoute_SecondConfiguredKey_IsAccepted()
    {
        const string second = "second-key-abcdefghijklmnop";
        await using ServerHost host = await ServerHost.StartAsync(o => o.ApiKeys.Add(second));
        using HttpClient client = host.CreateClient(h => h.Add("x-api-key", second));

        HttpResponseMessage response = await client.GetAsync("/api/orchestrators");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Start_NoKeyConfigured_GeneratesOwnerOnlyKeyFileLogsItsPathNotTheKeyAndReusesIt()
    {
        using var data = new TempDirectory("kestrel-apikey");
        string key;
        await using (ServerHost first = await ServerHost.StartAsync(o => { o.ApiKeys.Clear(); o.DataPath = data.Path; }))
        {
            string path = Path.Combine(data.Path, ApiKeyRing.KeyFileName);
            key = File.ReadAllText(path).Trim();
            key.Should().StartWith("kc_").And.HaveLength(46);
            if (!OperatingSystem.IsWindows())
            {
                File.GetUnixFileMode(path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            LogEntry generated = first.Logs.WithEventId(2001).Should().ContainSingle().Subject;
            generated.Message.Should().Contain(path);
            first.Logs.Entries.Should().NotContain(e => e.Message.Contains(key));
            using HttpClient client = first.CreateClient(h => h.Add("x-api-key", key));
            (await client.GetAsync("/api/orchestrators")).StatusCode.Should().Be(HttpStatusCode.OK);
            (await first.Client.GetAsync("/api/orchestrators")).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "the test key is not configured");
        }

        await using ServerHost second = await ServerHost.StartAsync(o => { o.ApiKeys.Clear(); o.DataPath = data.Path; });
        second.Logs.WithEventId(2002).Should().ContainSingle();
        using HttpClient again = second.CreateClient(h => h.Add("x-api-key", key));
        (await again.GetAsync("/api/orchestrators")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public void IsValid_EachKeyAndNearMisses_MatchesOnlyExactKeys()
    {
        ApiKeyRing ring = ApiKeyRing.FromKeys("alpha-key-0123456789", "beta-key-0123456789");

        ring.IsValid("alpha-key-0123456789").Should().BeTrue();
        ring.IsValid("beta-key-0123456789").Should().BeTrue();
        ring.IsValid("alpha-key-012345678").Should().BeFalse();
        ring.IsValid("ALPHA-KEY-0123456789").Should().BeFalse();
        ring.IsValid(string.Empty).Should().BeFalse();
        ring.IsValid(null).Should().BeFalse();
    }
}
