using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Kestrel.Cloud.Functions.Tests.Infrastructure;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class AgentEndpointsTests
{
    private const string ValidAgent = "---\ndescription: Writes haiku.\nmax_iterations: 5\n---\nYou write haiku.";

    private static string CreateBody(string name, string markdown) =>
        JsonSerializer.Serialize(new { name, agentMarkdown = markdown });

    [Fact]
    public async Task ListAgents_FreshServer_ListsTheDefaultAgent()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        JsonElement body = await (await host.Client.GetAsync("/api/agents")).ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("agents").EnumerateArray().Select(a => a.GetProperty("name").GetString()).Should().Contain("default");
    }

    [Fact]
    public async Task CreateAgent_Valid_Returns201WithLocationETagAndTheParsedDefinition()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents", HttpAssertions.Json(CreateBody("haiku", ValidAgent)));

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        response.Headers.Location!.AbsolutePath.Should().Be("/api/agents/haiku");
        body.GetProperty("name").GetString().Should().Be("haiku");
        body.GetProperty("description").GetString().Should().Be("Writes haiku.");
        body.GetProperty("maxIterations").GetInt32().Should().Be(5);
        body.GetProperty("files").GetProperty("agentMarkdown").GetString().Should().Be(ValidAgent);
        response.Headers.ETag!.Tag.Should().Be($"\"{body.GetProperty("version").GetString()}\"");

        JsonElement read = await (await host.Client.GetAsync("/api/agents/haiku")).ShouldBeJsonAsync(HttpStatusCode.OK);
        read.GetProperty("version").GetString().Should().Be(body.GetProperty("version").GetString());
        File.Exists(Path.Combine(host.DataPath, "agents", "haiku", "AGENT.md")).Should().BeTrue();
    }

    [Fact]
    public async Task CreateAgent_MaxIterationsOutOfRange_Returns422NamingFileAndField()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents", HttpAssertions.Json(CreateBody("bad", "---\nmax_iterations: 500\n---\nPrompt.")));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity, "agent-definition-invalid");
        problem.Detail().Should().Contain("AGENT.md front matter: max_iterations must be between 1 and 200");
        JsonElement error = problem.GetProperty("errors").EnumerateArray().Single();
        error.GetProperty("file").GetString().Should().Be("AGENT.md");
        error.GetProperty("location").GetString().Should().Be("front matter");
        error.GetProperty("field").GetString().Should().Be("max_iterations");
        Directory.Exists(Path.Combine(host.DataPath, "agents", "bad")).Should().BeFalse("nothing is written for an invalid agent");
    }

    [Fact]
    public async Task CreateAgent_NameTaken_Returns409()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents", HttpAssertions.Json(CreateBody("default", ValidAgent)));

        await response.ShouldBeProblemAsync(HttpStatusCode.Conflict, "agent-already-exists");
    }

    [Fact]
    public async Task CreateAgent_InvalidName_Returns400NamingTheField()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents", HttpAssertions.Json(CreateBody("Bad Name", ValidAgent)));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-field");
        problem.GetProperty("field").GetString().Should().Be("name");
        problem.Detail().Should().Contain("lowercase letters, digits and '-'");
    }

    [Fact]
    public async Task CreateAgent_MalformedJson_Returns400InvalidJson()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/agents", HttpAssertions.Json("{\"name\": \"x\","));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-json");
        problem.GetProperty("line").GetInt32().Should().Be(1);
    }

    [Fact]
    public async Task CreateAgent_BodyOverTheLimit_Returns413()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.Args.Add("--KestrelCloud:Http:MaxRequestBodySizeBytes=2048"));

        string huge = CreateBody("big", "---\n---\n" + new string('x', 10_000));
        HttpResponseMessage response = await host.Client.PostAsync("/api/agents", HttpAssertions.Json(huge));

        await response.ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
    }

    [Fact]
    public async Task ListAgents_WrongApiKey_Returns401()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        using HttpClient wrong = host.CreateClient(h => h.Add("x-api-key", "not-the-key-0123456789"));

        await (await wrong.GetAsync("/api/agents")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "api-key-invalid");
        await (await host.Anonymous.GetAsync("/api/agents/default")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "api-key-missing");
    }

    [Fact]
    public async Task GetAgent_Unknown_Returns404()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        JsonElement problem = await (await host.Client.GetAsync("/api/agents/nobody")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "agent-not-found");

        problem.Detail().Should().Contain("'nobody'");
    }

    [Fact]
    public async Task GetAgent_InvalidName_Returns400()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        await (await host.Client.GetAsync("/api/agents/UPPER")).ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-route-value");
    }

    [Fact]
    public async Task UpdateAgent_WithCurrentETag_ReplacesIt_AndWithAStaleOneReturns412()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        HttpResponseMessage created = await host.Client.PostAsync("/api/agents", HttpAssertions.Json(CreateBody("haiku", ValidAgent)));
        string etag = created.Headers.ETag!.Tag;

        using var update = new HttpRequestMessage(HttpMethod.Put, "/api/agents/haiku")
        {
            Content = HttpAssertions.Json(JsonSerializer.Serialize(new { agentMarkdown = "---\nmax_iterations: 7\n---\nYou write limericks." })),
        };
        update.Headers.IfMatch.Add(new EntityTagHeaderValue(etag));
        JsonElement updated = await (await host.Client.SendAsync(update)).ShouldBeJsonAsync(HttpStatusCode.OK);
        updated.GetProperty("maxIterations").GetInt32().Should().Be(7);

        using var stale = new HttpRequestMessage(HttpMethod.Put, "/api/agents/haiku")
        {
            Content = HttpAssertions.Json(JsonSerializer.Serialize(new { agentMarkdown = "---\n---\nAgain." })),
        };
        stale.Headers.IfMatch.Add(new EntityTagHeaderValue(etag));
        await (await host.Client.SendAsync(stale)).ShouldBeProblemAsync(HttpStatusCode.PreconditionFailed, "agent-version-mismatch");
    }

    [Fact]
    public async Task UpdateAgent_InvalidDefinition_Returns422AndKeepsTheOldOne()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        await host.Client.PostAsync("/api/agents", HttpAssertions.Json(CreateBody("haiku", ValidAgent)));

        HttpResponseMessage response = await host.Client.PutAsync("/api/agents/haiku", HttpAssertions.Json(JsonSerializer.Serialize(new { agentMarkdown = "---\ntemperature: 9\n---\nX." })));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity, "agent-definition-invalid");
        problem.GetProperty("errors")[0].GetProperty("field").GetString().Should().Be("temperature");
        JsonElement kept = await (await host.Client.GetAsync("/api/agents/haiku")).ShouldBeJsonAsync(HttpStatusCode.OK);
        kept.GetProperty("files").GetProperty("agentMarkdown").GetString().Should().Be(ValidAgent);
    }

    [Fact]
    public async Task UpdateAgent_Unknown_Returns404()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PutAsync("/api/agents/nobody", HttpAssertions.Json(JsonSerializer.Serialize(new { agentMarkdown = ValidAgent })));

        await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "agent-not-found");
    }

    [Fact]
    public async Task DeleteAgent_Existing_Returns204ThenTheAgentIsGone()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        await host.Client.PostAsync("/api/agents", HttpAssertions.Json(CreateBody("haiku", ValidAgent)));

        (await host.Client.DeleteAsync("/api/agents/haiku")).StatusCode.Should().Be(HttpStatusCode.NoContent);

        await (await host.Client.GetAsync("/api/agents/haiku")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "agent-not-found");
        await (await host.Client.DeleteAsync("/api/agents/haiku")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "agent-not-found");
    }

    [Fact]
    public async Task ListAndGet_AgentBrokenOnDisk_ListsItWithErrorsAndGetReturns422()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        string folder = Path.Combine(host.DataPath, "agents", "broken");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "AGENT.md"), "---\nmax_iterations: 0\n---\nPrompt.");

        JsonElement list = await (await host.Client.GetAsync("/api/agents")).ShouldBeJsonAsync(HttpStatusCode.OK);
        JsonElement problem = await (await host.Client.GetAsync("/api/agents/broken")).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity, "agent-definition-invalid");

        JsonElement broken = list.GetProperty("agents").EnumerateArray().Single(a => a.GetProperty("name").GetString() == "broken");
        broken.GetProperty("errors")[0].GetProperty("field").GetString().Should().Be("max_iterations");
        problem.GetProperty("errors")[0].GetProperty("file").GetString().Should().Be("AGENT.md");
        host.Logs.WithEventId(2045).Should().BeEmpty("nothing was changed through the API");
    }
}
