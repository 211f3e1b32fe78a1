using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing.Node;
using Kestrel.Cloud.Testing.Scripted;

namespace Kestrel.Cloud.Functions.Tests.EndToEnd;

/// <summary>A real MCP server (server-everything over stdio, from the repository's package.json) configured in the app.</summary>
public sealed class McpEndToEndTests
{
    /// <summary>
    /// Proves the MCP wiring of the app: /api/health reports the server Connected, an agent created over HTTP offers
    /// only the server's tools, the model's call of <c>everything__echo</c> asks (by the agent's <c>mcp:</c> rule: the
    /// pinned server-everything marks echo <c>readOnlyHint: true</c>, which the default policy would allow) and, once
    /// approved, its result is the server's echo.
    /// </summary>
    [Fact]
    public async Task EverythingEcho_ApprovedThroughApi_ToolResultIsServersEcho()
    {
        string everything = await NodePackages.ResolveBinAsync("@modelcontextprotocol/server-everything").WaitAsync(NodePackages.InstallTimeout);
        await using EndToEndHost e2e = await EndToEndHost.StartAsync(o => o.Args.AddRange(new[]
        {
            "--KestrelCloud:Mcp:Servers:everything:Command=node",
            $"--KestrelCloud:Mcp:Servers:everything:Args:0={everything}",
            "--KestrelCloud:Mcp:Servers:everything:Args:1=stdio",
        }));
        JsonElement server = await WaitForMcpConnectedAsync(e2e);
        server.GetProperty("tools").GetInt32().Should().BeGreaterThan(0);
        const string AgentMarkdown = "---\ntools: [\"mcp:everything/*\"]\napproval:\n  - tool: \"mcp:everything/echo\"\n    action: ask\n---\nYou use the everything server.";
        await (await e2e.Client.PostAsync(
            "/api/agents", HttpAssertions.Json(JsonSerializer.Serialize(new { name = "mcp-bot", agentMarkdown = AgentMarkdown })), EndToEndHost.Deadline()))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        e2e.Model.Enqueue(
            TurnWire.Tools(null, ("call_echo", "everything__echo", """{"message":"hello from kestrel"}""")),
            TurnWire.Text("The server echoed it."));
        HttpResponseMessage started = await e2e.PostMessageAsync("Echo something", "mode=async", agent: "mcp-bot");
        string runId = (await started.ShouldBeJsonAsync(HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;

        JsonElement requested = EndToEndHost.Data(await e2e.WaitForEventAsync(runId, "approval.requested"));
        requested.GetProperty("tool").GetString().Should().Be("everything__echo");
        await e2e.WaitForStatusAsync(runId, "WaitingForApproval");
        await (await e2e.Client.PostAsync($"/api/runs/{runId}/approvals/call_echo", HttpAssertions.Json("""{"decision":"approve"}"""), EndToEndHost.Deadline()))
            .ShouldBeJsonAsync(HttpStatusCode.OK);

        List<SseFrame> events = await e2e.ReadAllEventsAsync(runId);
        events.Select(e => e.Event).Should().ContainInOrder("approval.requested", "approval.granted", "tool.result", "run.finished");
        JsonElement result = EndToEndHost.Data(events.Single(e => e.Event == "tool.result"));
        result.GetProperty("isError").GetBoolean().Should().BeFalse(result.GetRawText());
        result.GetProperty("text").GetString().Should().Contain("hello from kestrel");
        EndToEndHost.Data(events[^1]).GetProperty("status").GetString().Should().Be("completed");
        TurnWire.Messages(e2e.Model.Requests[1]).Last().Text.Should().Contain("hello from kestrel");
        string[] declared = e2e.Model.Requests[0].Json.GetProperty("tools").EnumerateArray()
            .Select(t => t.GetProperty("function").GetProperty("name").GetString()!).ToArray();
        declared.Should().Contain("everything__echo").And.OnlyContain(n => n.StartsWith("everything__", StringComparison.Ordinal), "the agent selects mcp:everything/*");
        EndToEndHost.Data(events.Single(e => e.Event == "tool.call.requested")).GetProperty("reason").GetString().Should().Contain("rule 1");
    }

    // Polls /api/health (bounded) until the mcp component lists the server as Connected; returns its entry.
    private static async Task<JsonElement> WaitForMcpConnectedAsync(EndToEndHost e2e)
    {
        CancellationToken deadline = EndToEndHost.Deadline();
        JsonElement mcp = default;
        while (!deadline.IsCancellationRequested)
        {
            HttpResponseMessage response = await e2e.Host.Anonymous.GetAsync("/api/health", deadline);
            response.StatusCode.Should().NotBe(HttpStatusCode.InternalServerError);
            JsonElement health = JsonDocument.Parse(await response.Content.ReadAsStringAsync(deadline)).RootElement.Clone();
            mcp = health.GetProperty("components").GetProperty("mcp");
            JsonElement server = mcp.GetProperty("servers").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "everything");
            if (server.GetProperty("state").GetString() == "Connected")
            {
                mcp.GetProperty("status").GetString().Should().Be("Healthy");
                response.StatusCode.Should().Be(HttpStatusCode.OK);
                return server;
            }

            // A bounded poll interval while the child process starts, not a synchronization sleep.
            await Task.Delay(TimeSpan.FromMilliseconds(50), CancellationToken.None);
        }

        throw new TimeoutException($"The MCP server did not connect within {EndToEndHost.Timeout}: {mcp}");
    }
}
