using System.Text.Json;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Providers.Anthropic;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Tests.Providers;

/// <summary>The official Anthropic SDK's real client against a scripted Messages API server, through the adapter.</summary>
public sealed class AnthropicChatClientAdapterTests : IAsyncLifetime
{
    private ScriptedServer server = null!;

    public async Task InitializeAsync() => this.server = await ScriptedServer.StartAsync();

    public async Task DisposeAsync() => await this.server.DisposeAsync();

    [Fact]
    public async Task GetResponseAsync_TextAnswer_SendsSystemPromptModelMaxTokensAndKey()
    {
        this.server.Enqueue(AnthropicWire.Text("It is sunny.", new AnthropicWire.Usage(30, 6, CacheRead: 100, CacheCreation: 4)));
        IChatClient client = this.Adapter("sk-ant-1");

        ChatResponse response = await client.GetResponseAsync(ProviderTestData.Conversation(), new ChatOptions { MaxOutputTokens = 256 });

        response.Text.Should().Be("It is sunny.");
        response.ModelId.Should().Be("claude-test");
        response.FinishReason.Should().Be(ChatFinishReason.Stop);
        response.Usage!.InputTokenCount.Should().Be(134, "input_tokens + cache reads + cache writes");
        response.Usage.CachedInputTokenCount.Should().Be(100);
        response.Usage.OutputTokenCount.Should().Be(6);

        RecordedRequest request = this.server.Requests.Single();
        request.Path.Should().Be("/v1/messages");
        (request.Header("x-api-key") ?? request.Header("Authorization")).Should().EndWith("sk-ant-1");
        JsonElement json = request.Json;
        json.GetProperty("model").GetString().Should().Be("claude-test");
        json.GetProperty("max_tokens").GetInt32().Should().Be(256);
        json.GetProperty("system").ToString().Should().Contain("You are terse.");
        JsonElement[] messages = json.GetProperty("messages").EnumerateArray().ToArray();
        messages.Select(m => m.GetProperty("role").GetString()).Should().Equal("user");
        messages[0].GetProperty("content").ToString().Should().Contain("What is the weather in Paris?");
    }

    [Fact]
    public async Task GetResponseAsync_ToolUse_ReturnsFunctionCallAndDeclaresInputSchema()
    {
        this.server.Enqueue(AnthropicWire.ToolUse("toolu_1", "get_weather", new { city = "Paris" }, leadingText: "Checking."));
        IChatClient client = this.Adapter("sk-ant-1");

        ChatResponse response = await client.GetResponseAsync(ProviderTestData.Conversation(), new ChatOptions { Tools = [ProviderTestData.WeatherTool] });

        response.FinishReason.Should().Be(ChatFinishReason.ToolCalls);
        response.Text.Should().Be("Checking.");
        FunctionCallContent call = response.Messages.Single().Contents.OfType<FunctionCallContent>().Single();
        call.CallId.Should().Be("toolu_1");
        call.Name.Should().Be("get_weather");
        call.Arguments!["city"]!.ToString().Should().Be("Paris");

        JsonElement tool = this.server.Requests.Single().Json.GetProperty("tools")[0];
        tool.GetProperty("name").GetString().Should().Be("get_weather");
        tool.GetProperty("description").GetString().Should().Be("Current weather for a city.");
        tool.GetProperty("input_schema").GetProperty("type").GetString().Should().Be("object");
        tool.GetProperty("input_schema").GetProperty("required")[0].GetString().Should().Be("city");
    }

    [Fact]
    public async Task GetResponseAsync_ToolResultInHistory_SendsToolUseAndToolResultBlocks()
    {
        this.server.Enqueue(AnthropicWire.Text("18°C and sunny."));
        IChatClient client = this.Adapter("sk-ant-1");

        await client.GetResponseAsync(ProviderTestData.ConversationWithToolResult(), new ChatOptions { Tools = [ProviderTestData.WeatherTool] });

        JsonElement[] messages = this.server.Requests.Single().Json.GetProperty("messages").EnumerateArray().ToArray();
        messages.Select(m => m.GetProperty("role").GetString()).Should().Equal("user", "assistant", "user");
        JsonElement toolUse = messages[1].GetProperty("content")[0];
        toolUse.GetProperty("type").GetString().Should().Be("tool_use");
        toolUse.GetProperty("id").GetString().Should().Be("call_1");
        toolUse.GetProperty("input").GetProperty("city").GetString().Should().Be("Paris");
        JsonElement toolResult = messages[2].GetProperty("content")[0];
        toolResult.GetProperty("type").GetString().Should().Be("tool_result");
        toolResult.GetProperty("tool_use_id").GetString().Should().Be("call_1");
        toolResult.GetProperty("content").ToString().Should().Contain("18°C, sunny");
    }

    [Fact]
    public async Task GetStreamingResponseAsync_TextDeltas_ArriveInOrderThenUsage()
    {
        this.server.Enqueue(AnthropicWire.StreamText(new AnthropicWire.Usage(25, 15, CacheRead: 5), "Hel", "lo ", "world"));
        IChatClient client = this.Adapter("sk-ant-1");

        List<ChatResponseUpdate> updates = await ProviderTestData.CollectAsync(client.GetStreamingResponseAsync(ProviderTestData.Conversation()));

        updates.Where(u => !string.IsNullOrEmpty(u.Text)).Select(u => u.Text).Should().Equal("Hel", "lo ", "world");
        UsageDetails usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;
        usage.InputTokenCount.Should().Be(30);
        usage.CachedInputTokenCount.Should().Be(5);
        usage.OutputTokenCount.Should().Be(15, "message_delta carries the final output count");
        updates.Last().FinishReason.Should().Be(ChatFinishReason.Stop);
        this.server.Requests.Single().Json.GetProperty("stream").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task GetStreamingResponseAsync_InputJsonDeltas_AssembledIntoOneCall()
    {
        this.server.Enqueue(AnthropicWire.StreamToolUse(new AnthropicWire.Usage(40, 20), "toolu_9", "get_weather", "{\"ci", "ty\": \"Pa", "ris\"}"));
        IChatClient client = this.Adapter("sk-ant-1");

        List<ChatResponseUpdate> updates = await ProviderTestData.CollectAsync(
            client.GetStreamingResponseAsync(ProviderTestData.Conversation(), new ChatOptions { Tools = [ProviderTestData.WeatherTool] }));

        string.Concat(updates.Select(u => u.Text)).Should().Be("Let me check.");
        FunctionCallContent call = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().Single();
        call.CallId.Should().Be("toolu_9");
        call.Arguments!["city"]!.ToString().Should().Be("Paris");
        updates.Last().FinishReason.Should().Be(ChatFinishReason.ToolCalls);
    }

    [Fact]
    public async Task GetResponseAsync_RateLimited_ThrowsRateLimitedWithRetryAfter()
    {
        this.server.Enqueue(AnthropicWire.RateLimited("12"));
        IChatClient client = this.Adapter("sk-ant-1");

        ProviderException error = (await FluentActions.Awaiting(() => client.GetResponseAsync(ProviderTestData.Conversation()))
            .Should().ThrowAsync<ProviderException>()).Which;

        error.Kind.Should().Be(ProviderFailureKind.RateLimited);
        error.RetryAfter.Should().Be(TimeSpan.FromSeconds(12));
        error.ErrorCode.Should().Be("rate_limit_error");
        this.server.Requests.Should().HaveCount(1, "the SDK's own retries are off");
    }

    [Fact]
    public async Task GetStreamingResponseAsync_PromptTooLong_ThrowsContextWindowExceededException()
    {
        this.server.Enqueue(AnthropicWire.PromptTooLong());
        IChatClient client = this.Adapter("sk-ant-1");

        ContextWindowExceededException error = (await FluentActions.Awaiting(() => ProviderTestData.CollectAsync(client.GetStreamingResponseAsync(ProviderTestData.Conversation())))
            .Should().ThrowAsync<ContextWindowExceededException>()).Which;

        error.Message.Should().Contain("prompt is too long");
    }

    [Fact]
    public async Task GetResponseAsync_Overloaded529_ThrowsTransient()
    {
        this.server.Enqueue(AnthropicWire.Overloaded());
        IChatClient client = this.Adapter("sk-ant-1");

        ProviderException error = (await FluentActions.Awaiting(() => client.GetResponseAsync(ProviderTestData.Conversation()))
            .Should().ThrowAsync<ProviderException>()).Which;

        error.Kind.Should().Be(ProviderFailureKind.Transient);
        error.StatusCode.Should().Be(529);
    }

    private AnthropicChatClientAdapter Adapter(string apiKey) =>
        new(AnthropicChatClientAdapter.CreateClient(apiKey, this.server.BaseUri, TimeSpan.FromSeconds(30)), "claude-test");
}
