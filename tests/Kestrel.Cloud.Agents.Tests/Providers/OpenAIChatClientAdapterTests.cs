using System.ClientModel.Primitives;
using System.Text.Json;
using Azure.Core;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Providers.OpenAI;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Kestrel.Cloud.Agents.Tests.Providers;

/// <summary>The OpenAI SDK's real ChatClient against a scripted Chat Completions server, through the adapter.</summary>
public sealed class OpenAIChatClientAdapterTests : IAsyncLifetime
{
    private ScriptedServer server = null!;

    public async Task InitializeAsync() => this.server = await ScriptedServer.StartAsync();

    public async Task DisposeAsync() => await this.server.DisposeAsync();

    [Fact]
    public async Task GetResponseAsync_TextAnswer_SendsModelMessagesOptionsAndKey()
    {
        this.server.Enqueue(OpenAIWire.Text("It is sunny.", new OpenAIWire.Usage(120, 7, Cached: 100)));
        IChatClient client = this.Adapter(OpenAIAuthentication.BearerKey("sk-test-1"));

        ChatResponse response = await client.GetResponseAsync(
            ProviderTestData.Conversation(),
            new ChatOptions { ModelId = "gpt-test", Temperature = 0.25f, MaxOutputTokens = 300 });

        response.Text.Should().Be("It is sunny.");
        response.ModelId.Should().Be("gpt-test");
        response.FinishReason.Should().Be(ChatFinishReason.Stop);
        response.Usage!.InputTokenCount.Should().Be(120);
        response.Usage.OutputTokenCount.Should().Be(7);
        response.Usage.CachedInputTokenCount.Should().Be(100);

        RecordedRequest request = this.server.Requests.Single();
        request.Path.Should().Be("/v1/chat/completions");
        request.Header("Authorization").Should().Be("Bearer sk-test-1");
        JsonElement json = request.Json;
        json.GetProperty("model").GetString().Should().Be("gpt-test");
        json.GetProperty("temperature").GetDouble().Should().BeApproximately(0.25, 1e-6);
        json.GetProperty("max_completion_tokens").GetInt32().Should().Be(300);
        JsonElement[] messages = json.GetProperty("messages").EnumerateArray().ToArray();
        messages.Select(m => m.GetProperty("role").GetString()).Should().Equal("system", "user");
        messages[1].GetProperty("content").ToString().Should().Contain("What is the weather in Paris?");
    }

    [Fact]
    public async Task GetResponseAsync_ModelAsksForTool_ReturnsFunctionCallAndDeclaresToolSchema()
    {
        this.server.Enqueue(OpenAIWire.ToolCalls(null, new OpenAIWire.ToolCall("call_1", "get_weather", """{"city":"Paris"}""")));
        IChatClient client = this.Adapter(OpenAIAuthentication.BearerKey("sk-test-1"));

        ChatResponse response = await client.GetResponseAsync(ProviderTestData.Conversation(), new ChatOptions { Tools = [ProviderTestData.WeatherTool] });

        response.FinishReason.Should().Be(ChatFinishReason.ToolCalls);
        FunctionCallContent call = response.Messages.Single().Contents.OfType<FunctionCallContent>().Single();
        call.CallId.Should().Be("call_1");
        call.Name.Should().Be("get_weather");
        call.Arguments!["city"]!.ToString().Should().Be("Paris");

        JsonElement tool = this.server.Requests.Single().Json.GetProperty("tools")[0];
        tool.GetProperty("type").GetString().Should().Be("function");
        tool.GetProperty("function").GetProperty("name").GetString().Should().Be("get_weather");
        tool.GetProperty("function").GetProperty("parameters").GetProperty("required")[0].GetString().Should().Be("city");
    }

    [Fact]
    public async Task GetResponseAsync_ToolResultInHistory_SendsAssistantToolCallAndToolMessage()
    {
        this.server.Enqueue(OpenAIWire.Text("18°C and sunny in Paris."));
        IChatClient client = this.Adapter(OpenAIAuthentication.BearerKey("sk-test-1"));

        ChatResponse response = await client.GetResponseAsync(ProviderTestData.ConversationWithToolResult(), new ChatOptions { Tools = [ProviderTestData.WeatherTool] });

        response.Text.Should().Be("18°C and sunny in Paris.");
        JsonElement[] messages = this.server.Requests.Single().Json.GetProperty("messages").EnumerateArray().ToArray();
        messages.Select(m => m.GetProperty("role").GetString()).Should().Equal("system", "user", "assistant", "tool");
        JsonElement toolCall = messages[2].GetProperty("tool_calls")[0];
        toolCall.GetProperty("id").GetString().Should().Be("call_1");
        toolCall.GetProperty("function").GetProperty("name").GetString().Should().Be("get_weather");
        JsonDocument.Parse(toolCall.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString().Should().Be("Paris");
        messages[3].GetProperty("tool_call_id").GetString().Should().Be("call_1");
        messages[3].GetProperty("content").ToString().Should().Contain("18°C, sunny");
    }

    [Fact]
    public async Task GetStreamingResponseAsync_TextChunks_ArriveInOrderThenUsage()
    {
        this.server.Enqueue(OpenAIWire.StreamText(new OpenAIWire.Usage(50, 3, Cached: 20), "Hel", "lo ", "world"));
        IChatClient client = this.Adapter(OpenAIAuthentication.BearerKey("sk-test-1"));

        List<ChatResponseUpdate> updates = await ProviderTestData.CollectAsync(client.GetStreamingResponseAsync(ProviderTestData.Conversation()));

        updates.Where(u => !string.IsNullOrEmpty(u.Text)).Select(u => u.Text).Should().Equal("Hel", "lo ", "world");
        UsageDetails usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;
        usage.InputTokenCount.Should().Be(50);
        usage.OutputTokenCount.Should().Be(3);
        usage.CachedInputTokenCount.Should().Be(20);
        updates.Last().FinishReason.Should().Be(ChatFinishReason.Stop);
        JsonElement json = this.server.Requests.Single().Json;
        json.GetProperty("stream").GetBoolean().Should().BeTrue();
        json.GetProperty("stream_options").GetProperty("include_usage").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ToolCallDeltas_AssembledIntoOneCall()
    {
        this.server.Enqueue(OpenAIWire.StreamToolCall(new OpenAIWire.Usage(40, 9), "call_7", "get_weather", "{\"ci", "ty\": \"Pa", "ris\"}"));
        IChatClient client = this.Adapter(OpenAIAuthentication.BearerKey("sk-test-1"));

        List<ChatResponseUpdate> updates = await ProviderTestData.CollectAsync(
            client.GetStreamingResponseAsync(ProviderTestData.Conversation(), new ChatOptions { Tools = [ProviderTestData.WeatherTool] }));

        FunctionCallContent call = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().Single();
        call.CallId.Should().Be("call_7");
        call.Name.Should().Be("get_weather");
        call.Arguments!["city"]!.ToString().Should().Be("Paris");
        updates.Last().FinishReason.Should().Be(ChatFinishReason.ToolCalls);
    }

    [Fact]
    public async Task GetResponseAsync_RateLimited_ThrowsRateLimitedWithRetryAfter()
    {
        this.server.Enqueue(OpenAIWire.RateLimited("7"));
        IChatClient client = this.Adapter(OpenAIAuthentication.BearerKey("sk-test-1"));

        ProviderException error = (await FluentActions.Awaiting(() => client.GetResponseAsync(ProviderTestData.Conversation()))
            .Should().ThrowAsync<ProviderException>()).Which;

        error.Kind.Should().Be(ProviderFailureKind.RateLimited);
        error.StatusCode.Should().Be(429);
        error.RetryAfter.Should().Be(TimeSpan.FromSeconds(7));
        error.ErrorCode.Should().Be("rate_limit_exceeded");
        this.server.Requests.Should().HaveCount(1, "the SDK's own retries are off");
    }

    [Fact]
    public async Task GetResponseAsync_ContextLengthExceeded_ThrowsContextWindowExceededException()
    {
        this.server.Enqueue(OpenAIWire.ContextTooLong());
        IChatClient client = this.Adapter(OpenAIAuthentication.BearerKey("sk-test-1"));

        ContextWindowExceededException error = (await FluentActions.Awaiting(() => client.GetResponseAsync(ProviderTestData.Conversation()))
            .Should().ThrowAsync<ContextWindowExceededException>()).Which;

        error.Kind.Should().Be(ProviderFailureKind.ContextWindowExceeded);
        error.Message.Should().Contain("maximum context length");
    }

    [Fact]
    public async Task GetStreamingResponseAsync_InvalidKey_ThrowsAuthenticationBeforeAnyUpdate()
    {
        this.server.Enqueue(OpenAIWire.InvalidKey());
        IChatClient client = this.Adapter(OpenAIAuthentication.BearerKey("sk-bad"));

        ProviderException error = (await FluentActions.Awaiting(() => ProviderTestData.CollectAsync(client.GetStreamingResponseAsync(ProviderTestData.Conversation())))
            .Should().ThrowAsync<ProviderException>()).Which;

        error.Kind.Should().Be(ProviderFailureKind.Authentication);
    }

    [Fact]
    public async Task GetResponseAsync_AzureApiKey_SendsApiKeyHeaderToV1Path()
    {
        this.server.Enqueue(OpenAIWire.Text("ok"));
        IChatClient client = this.Adapter(OpenAIAuthentication.AzureApiKey("azure-key-1"), path: "openai/v1/");

        await client.GetResponseAsync(ProviderTestData.Conversation(), new ChatOptions { ModelId = "my-deployment" });

        RecordedRequest request = this.server.Requests.Single();
        request.Path.Should().Be("/openai/v1/chat/completions");
        request.Header("api-key").Should().Be("azure-key-1");
        request.Header("Authorization").Should().BeNull();
        request.Json.GetProperty("model").GetString().Should().Be("my-deployment");
    }

    [Fact]
    public async Task GetResponseAsync_EntraId_SendsBearerTokenForCognitiveServicesScope()
    {
        // Bearer tokens only go over TLS (the SDK refuses plain HTTP), so this server speaks HTTPS.
        await using ScriptedServer tls = await ScriptedServer.StartAsync(https: true);
        tls.Enqueue(OpenAIWire.Text("ok"));
        var credential = new FakeTokenCredential("entra-token-1");
        using HttpClient http = tls.CreateTrustingHttpClient();
        var client = new OpenAIChatClientAdapter(
            new OpenAIClientOptions { Endpoint = new Uri(tls.BaseUri, "openai/v1/"), RetryPolicy = new ClientRetryPolicy(0), Transport = new HttpClientPipelineTransport(http) },
            OpenAIAuthentication.EntraId(credential),
            "my-deployment");

        await client.GetResponseAsync(ProviderTestData.Conversation());

        tls.Requests.Single().Header("Authorization").Should().Be("Bearer entra-token-1");
        tls.Requests.Single().Header("api-key").Should().BeNull();
        credential.Scopes.Should().Equal("https://cognitiveservices.azure.com/.default");
    }

    [Fact]
    public async Task GetResponseAsync_EntraIdOverPlainHttp_RefusesToSendTheToken()
    {
        var credential = new FakeTokenCredential("entra-token-1");
        IChatClient client = this.Adapter(OpenAIAuthentication.EntraId(credential), path: "openai/v1/");

        await FluentActions.Awaiting(() => client.GetResponseAsync(ProviderTestData.Conversation()))
            .Should().ThrowAsync<InvalidOperationException>().WithMessage("*non TLS*");
        this.server.Requests.Should().BeEmpty();
    }

    private OpenAIChatClientAdapter Adapter(AuthenticationPolicy authentication, string path = "v1/") =>
        new(
            new OpenAIClientOptions { Endpoint = new Uri(this.server.BaseUri, path), RetryPolicy = new ClientRetryPolicy(0) },
            authentication,
            "gpt-test");

    private sealed class FakeTokenCredential : TokenCredential
    {
        private readonly string token;

        public FakeTokenCredential(string token) => this.token = token;

        public List<string> Scopes { get; } = new();

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            lock (this.Scopes)
            {
                this.Scopes.AddRange(requestContext.Scopes);
            }

            return new AccessToken(this.token, DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(this.GetToken(requestContext, cancellationToken));
    }
}
