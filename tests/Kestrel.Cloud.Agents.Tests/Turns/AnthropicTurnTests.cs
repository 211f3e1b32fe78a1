using System.Text.Json;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Testing.Scripted;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>
/// A real turn with the Anthropic provider: the official Anthropic SDK inside the AgentTurn orchestration, against the
/// scripted server speaking the Messages API (streamed text and tool_use blocks).
/// </summary>
public sealed class AnthropicTurnTests : IAsyncLifetime
{
    private readonly RecordingTool lookup = new("lookup", isReadOnly: true);
    private TurnHarness h = null!;

    public async Task InitializeAsync()
    {
        this.h = await TurnHarness.CreateAsync(sqlite: true, anthropic: true, new Dictionary<string, string?>
        {
            ["KestrelCloud:Models:Providers:scripted:DefaultModel"] = "claude-test",
            ["KestrelCloud:Models:Providers:scripted:Prices:claude-test:Input"] = "3",
            ["KestrelCloud:Models:Providers:scripted:Prices:claude-test:Output"] = "15",
        }, this.lookup);
        await this.h.CreateAgentAsync("claude", "tools: [lookup]");
    }

    public async Task DisposeAsync() => await this.h.DisposeAsync();

    /// <summary>Proves the Anthropic path end to end: streamed tool_use → the tool runs → its result goes back as a tool_result block → streamed final text; usage and cost from the Anthropic usage fields.</summary>
    [Fact]
    public async Task Turn_AnthropicToolUseThenText_Completes()
    {
        this.h.Server.Enqueue(
            AnthropicWire.StreamToolUse(new AnthropicWire.Usage(120, 12), "toolu_1", "lookup", "{\"q\":", "\"answer\"}"),
            AnthropicWire.StreamText(new AnthropicWire.Usage(150, 8), "It is ", "42."));

        string runId = await this.h.StartAsync("claude", "What is the answer?");
        await this.h.RunUntilIdleAsync();

        RunInfo run = await this.h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Completed, run.Error);
        run.FinalText.Should().Be("It is 42.");
        run.Usage.InputTokens.Should().Be(270);
        run.Usage.OutputTokens.Should().Be(20);
        run.Usage.CostUsd.Should().Be(((270m * 3) + (20m * 15)) / 1_000_000m);
        this.lookup.Calls.Should().Equal("""{"q":"answer"}""");

        this.h.Server.Requests.Should().HaveCount(2);
        // The Anthropic SDK (13.x) sends ClientOptions.ApiKey as "Authorization: Bearer <key>".
        this.h.Server.Requests.Should().OnlyContain(r => r.Path == "/v1/messages" && r.Header("Authorization") == "Bearer sk-test");
        JsonElement second = this.h.Server.Requests[1].Json;
        second.GetProperty("model").GetString().Should().Be("claude-test");
        string secondBody = this.h.Server.Requests[1].Body;
        secondBody.Should().Contain("\"tool_result\"").And.Contain("toolu_1").And.Contain("lookup got");

        IReadOnlyList<RunEvent> events = await this.h.EventsOfAsync(runId);
        events.Select(e => e.Type).Should().ContainInOrder(RunEventTypes.Started, RunEventTypes.ToolCallRequested, RunEventTypes.ToolResult, RunEventTypes.Finished);
        events[^1].Data.GetProperty("text").GetString().Should().Be("It is 42.");
    }
}
