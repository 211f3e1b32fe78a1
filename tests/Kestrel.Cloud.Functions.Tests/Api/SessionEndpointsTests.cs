using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class SessionEndpointsTests
{
    private static async Task<ServerHost> StartWithSessionsAsync()
    {
        ServerHost host = await ServerHost.StartAsync();
        ISessionStore store = host.App.Services.GetRequiredService<ISessionStore>();
        const string messages = "[{\"role\":\"user\",\"contents\":[{\"$type\":\"text\",\"text\":\"hi\"}]}]";
        await store.SaveAsync("default", "alice", messages, 1, new[] { "run-1" }, null);
        await store.SaveAsync("default", "bob", "[]", 0, Array.Empty<string>(), null);
        await store.SaveAsync("helper", "alice", "[]", 0, Array.Empty<string>(), null);
        return host;
    }

    [Fact]
    public async Task ListSessions_AllAndByAgent_ReturnsThemOrderedByAgentThenKey()
    {
        await using ServerHost host = await StartWithSessionsAsync();

        JsonElement all = await (await host.Client.GetAsync("/api/sessions")).ShouldBeJsonAsync(HttpStatusCode.OK);
        JsonElement mine = await (await host.Client.GetAsync("/api/sessions?agent=default")).ShouldBeJsonAsync(HttpStatusCode.OK);
        JsonElement paged = await (await host.Client.GetAsync("/api/sessions?top=2")).ShouldBeJsonAsync(HttpStatusCode.OK);

        all.GetProperty("sessions").EnumerateArray().Select(s => $"{s.GetProperty("agent").GetString()}/{s.GetProperty("key").GetString()}")
            .Should().Equal("default/alice", "default/bob", "helper/alice");
        mine.GetProperty("sessions").GetArrayLength().Should().Be(2);
        string token = paged.GetProperty("continuationToken").GetString()!;
        JsonElement rest = await (await host.Client.GetAsync($"/api/sessions?top=2&continuationToken={token}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        rest.GetProperty("sessions").EnumerateArray().Single().GetProperty("agent").GetString().Should().Be("helper");
    }

    [Fact]
    public async Task GetSession_Existing_ReturnsItsMessages()
    {
        await using ServerHost host = await StartWithSessionsAsync();

        JsonElement session = await (await host.Client.GetAsync("/api/sessions/default/alice")).ShouldBeJsonAsync(HttpStatusCode.OK);

        session.GetProperty("messageCount").GetInt32().Should().Be(1);
        session.GetProperty("messages")[0].GetProperty("role").GetString().Should().Be("user");
    }

    [Fact]
    public async Task DeleteSession_Existing_Returns204ThenItIsGone()
    {
        await using ServerHost host = await StartWithSessionsAsync();

        (await host.Client.DeleteAsync("/api/sessions/default/alice")).StatusCode.Should().Be(HttpStatusCode.NoContent);

        await (await host.Client.GetAsync("/api/sessions/default/alice")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "session-not-found");
        await (await host.Client.DeleteAsync("/api/sessions/default/alice")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "session-not-found");
        (await host.Client.GetAsync("/api/sessions/default/bob")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("/api/sessions/Default/alice", "invalid-route-value")]
    [InlineData("/api/sessions/default/has%20space", "invalid-route-value")]
    [InlineData("/api/sessions?continuationToken=nope", "invalid-query-parameter")]
    [InlineData("/api/sessions?agent=NOPE", "invalid-query-parameter")]
    public async Task Sessions_BadInput_Returns400(string path, string code)
    {
        await using ServerHost host = await StartWithSessionsAsync();

        await (await host.Client.GetAsync(path)).ShouldBeProblemAsync(HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task Sessions_NoApiKey_Returns401()
    {
        await using ServerHost host = await StartWithSessionsAsync();

        await (await host.Anonymous.GetAsync("/api/sessions")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized, "api-key-missing");
    }
}
