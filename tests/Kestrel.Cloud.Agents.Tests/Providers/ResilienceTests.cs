using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Providers.Resilience;
using Kestrel.Cloud.Testing.Scripted;
using Kestrel.Cloud.Agents.Tests.Support;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Tests.Providers;

/// <summary>
/// The whole provider pipeline from <see cref="ChatClientFactory"/> (real SDK clients, retries, key rotation,
/// fallback models, compaction) against the scripted servers, with retry delays on a <see cref="ManualTimeProvider"/>.
/// </summary>
public sealed class ResilienceTests : IAsyncLifetime
{
    private readonly ManualTimeProvider clock = new();
    private readonly List<(ProviderFailureKind Kind, TimeSpan Delay)> retries = new();
    private readonly TaskCompletionSource firstRetry = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ScriptedServer server = null!;

    public async Task InitializeAsync() => this.server = await ScriptedServer.StartAsync();

    public async Task DisposeAsync() => await this.server.DisposeAsync();

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_RateLimitedWithRetryAfter_WaitsExactlyRetryAfterThenSucceeds(Vendor vendor)
    {
        this.server.Enqueue(Wire.RateLimited(vendor, "7"), Wire.Text(vendor, "after the wait"));
        using ChatClientFactory factory = this.Factory(WireProviders.Provider(vendor, this.server, "key-1"));
        IChatClient client = factory.CreateChatClient();
        DateTimeOffset start = this.clock.GetUtcNow();

        Task<ChatResponse> call = client.GetResponseAsync(ProviderTestData.Conversation());
        await this.WaitForRetryDelayAsync();
        this.clock.Advance(TimeSpan.FromSeconds(7) - TimeSpan.FromMilliseconds(1));
        call.IsCompleted.Should().BeFalse("the Retry-After of 7 s has not passed");
        this.server.Requests.Should().HaveCount(1);
        this.clock.Advance(TimeSpan.FromMilliseconds(1));
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(10));

        response.Text.Should().Be("after the wait");
        this.retries.Should().Equal((ProviderFailureKind.RateLimited, TimeSpan.FromSeconds(7)));
        (this.clock.GetUtcNow() - start).Should().Be(TimeSpan.FromSeconds(7));
        this.server.Requests.Select(Wire.KeyOf).Should().Equal("key-1", "key-1");
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_ServerErrorThenSuccess_RetriesAfterBackoff(Vendor vendor)
    {
        this.server.Enqueue(Wire.ServerError(vendor), Wire.Text(vendor, "recovered"));
        using ChatClientFactory factory = this.Factory(WireProviders.Provider(vendor, this.server, "key-1"));

        Task<ChatResponse> call = factory.CreateChatClient().GetResponseAsync(ProviderTestData.Conversation());
        TimeSpan delay = await this.WaitForRetryDelayAsync();
        this.clock.Advance(delay);
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(10));

        response.Text.Should().Be("recovered");
        this.retries.Should().ContainSingle().Which.Kind.Should().Be(ProviderFailureKind.Transient);
        this.retries[0].Delay.Should().BeGreaterThan(TimeSpan.Zero).And.BeLessThanOrEqualTo(TimeSpan.FromSeconds(30));
        this.server.Requests.Should().HaveCount(2);
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_NoAnswerWithinAttemptTimeout_RetriesAsTimeout(Vendor vendor)
    {
        this.server.Enqueue(ScriptedResponse.NoAnswer(), Wire.Text(vendor, "second attempt"));
        using ChatClientFactory factory = this.Factory(WireProviders.Provider(vendor, this.server, "key-1"));

        Task<ChatResponse> call = factory.CreateChatClient().GetResponseAsync(ProviderTestData.Conversation());
        await this.server.WaitForRequestsAsync(1);
        this.clock.Advance(TimeSpan.FromSeconds(20));
        TimeSpan delay = await this.WaitForRetryDelayAsync();
        this.clock.Advance(delay);
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(10));

        response.Text.Should().Be("second attempt");
        this.retries.Should().ContainSingle().Which.Kind.Should().Be(ProviderFailureKind.Timeout);
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetStreamingResponseAsync_RateLimitedThenStream_RetriesBeforeFirstUpdate(Vendor vendor)
    {
        this.server.Enqueue(Wire.RateLimited(vendor, "3"), Wire.StreamText(vendor, "a", "b", "c"));
        using ChatClientFactory factory = this.Factory(WireProviders.Provider(vendor, this.server, "key-1"));

        Task<List<ChatResponseUpdate>> call = ProviderTestData.CollectAsync(factory.CreateChatClient().GetStreamingResponseAsync(ProviderTestData.Conversation()));
        await this.WaitForRetryDelayAsync();
        this.clock.Advance(TimeSpan.FromSeconds(3));
        List<ChatResponseUpdate> updates = await call.WaitAsync(TimeSpan.FromSeconds(10));

        updates.Where(u => !string.IsNullOrEmpty(u.Text)).Select(u => u.Text).Should().Equal("a", "b", "c");
        this.retries.Should().Equal((ProviderFailureKind.RateLimited, TimeSpan.FromSeconds(3)));
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_FirstKeyUnauthorized_SecondKeyUsedAndFirstCooledDown(Vendor vendor)
    {
        this.server.Enqueue(Wire.InvalidKey(vendor), Wire.Text(vendor, "from key 2"), Wire.Text(vendor, "key 2 again"));
        using ChatClientFactory factory = this.Factory(WireProviders.Provider(vendor, this.server, "key-1", "key-2"));
        IChatClient client = factory.CreateChatClient();

        ChatResponse first = await client.GetResponseAsync(ProviderTestData.Conversation());
        ChatResponse second = await client.GetResponseAsync(ProviderTestData.Conversation());

        first.Text.Should().Be("from key 2");
        second.Text.Should().Be("key 2 again");
        this.server.Requests.Select(Wire.KeyOf).Should().Equal("key-1", "key-2", "key-2");
        this.retries.Should().BeEmpty("rotation moves to the next key at once");
        ApiKeyState cooled = factory.GetKeyPool("p")!.Snapshot()[0];
        cooled.LastFailure.Should().Be(ProviderFailureKind.Authentication);
        cooled.CoolingDownUntil.Should().Be(this.clock.GetUtcNow() + TimeSpan.FromHours(1));
        cooled.Hint.Should().Be("…ey-1");
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_OnlyKeyUnauthorized_ThrowsAuthenticationWithoutRetrying(Vendor vendor)
    {
        this.server.Enqueue(Wire.InvalidKey(vendor));
        using ChatClientFactory factory = this.Factory(WireProviders.Provider(vendor, this.server, "key-1"));

        ProviderException error = (await FluentActions.Awaiting(() => factory.CreateChatClient().GetResponseAsync(ProviderTestData.Conversation()))
            .Should().ThrowAsync<ProviderException>()).Which;

        error.Kind.Should().Be(ProviderFailureKind.Authentication);
        error.StatusCode.Should().Be(401);
        this.server.Requests.Should().HaveCount(1);
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_ModelNotFound_FallsBackToNextModel(Vendor vendor)
    {
        this.server.Enqueue(Wire.ModelNotFound(vendor, "model-a"), Wire.Text(vendor, "from b", model: "model-b"));
        ProviderOptions provider = WireProviders.Provider(vendor, this.server, "key-1");
        provider.FallbackModels = new List<string> { "model-b", "model-c" };
        using ChatClientFactory factory = this.Factory(provider);

        ChatResponse response = await factory.CreateChatClient().GetResponseAsync(ProviderTestData.Conversation());

        response.Text.Should().Be("from b");
        response.ModelId.Should().Be("model-b");
        this.server.Requests.Select(Wire.ModelOf).Should().Equal("model-a", "model-b");
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_RetriesExhausted_FallsBackToNextModel(Vendor vendor)
    {
        this.server.Enqueue(Wire.ServerError(vendor), Wire.ServerError(vendor), Wire.Text(vendor, "from b", model: "model-b"));
        ProviderOptions provider = WireProviders.Provider(vendor, this.server, "key-1");
        provider.FallbackModels = new List<string> { "model-b" };
        using ChatClientFactory factory = this.Factory(provider, maxRetryAttempts: 1);

        Task<ChatResponse> call = factory.CreateChatClient().GetResponseAsync(ProviderTestData.Conversation());
        TimeSpan delay = await this.WaitForRetryDelayAsync();
        this.clock.Advance(delay);
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(10));

        response.Text.Should().Be("from b");
        this.server.Requests.Select(Wire.ModelOf).Should().Equal("model-a", "model-a", "model-b");
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_ContextOverflow_CompactsThenRetriesOnce(Vendor vendor)
    {
        this.server.Enqueue(Wire.ContextTooLong(vendor), Wire.Text(vendor, "fits now"));
        using ChatClientFactory factory = this.Factory(WireProviders.Provider(vendor, this.server, "key-1"));
        var seen = new List<(int Count, ContextWindowExceededException Error)>();
        IChatClient client = factory.CreateChatClient().UseContextCompaction((messages, error, _) =>
        {
            seen.Add((messages.Count, error));
            return Task.FromResult<IReadOnlyList<ChatMessage>>(new[] { new ChatMessage(ChatRole.User, "Summary: weather question about Paris.") });
        });

        ChatResponse response = await client.GetResponseAsync(ProviderTestData.ConversationWithToolResult());

        response.Text.Should().Be("fits now");
        seen.Should().ContainSingle().Which.Count.Should().Be(4);
        seen[0].Error.Kind.Should().Be(ProviderFailureKind.ContextWindowExceeded);
        this.server.Requests.Should().HaveCount(2);
        this.server.Requests[1].Body.Should().Contain("Summary: weather question about Paris.").And.NotContain("18°C, sunny");
    }

    [Theory]
    [InlineData(Vendor.OpenAI)]
    [InlineData(Vendor.Anthropic)]
    public async Task GetResponseAsync_StillOverflowingAfterCompaction_ThrowsAfterOneRetry(Vendor vendor)
    {
        this.server.Enqueue(Wire.ContextTooLong(vendor), Wire.ContextTooLong(vendor));
        using ChatClientFactory factory = this.Factory(WireProviders.Provider(vendor, this.server, "key-1"));
        int compactions = 0;
        IChatClient client = factory.CreateChatClient().UseContextCompaction((messages, _, _) =>
        {
            compactions++;
            return Task.FromResult<IReadOnlyList<ChatMessage>>(messages.Skip(1).ToList());
        });

        await FluentActions.Awaiting(() => client.GetResponseAsync(ProviderTestData.Conversation()))
            .Should().ThrowAsync<ContextWindowExceededException>()
            .WithMessage("The conversation still exceeds the model's context window after compaction (2 messages compacted to 1); it was retried once.*");
        compactions.Should().Be(1);
        this.server.Requests.Should().HaveCount(2);
    }

    private ChatClientFactory Factory(ProviderOptions provider, int maxRetryAttempts = 3)
    {
        var options = new ProvidersOptions
        {
            Providers = { ["p"] = provider },
            Retry = new ProviderRetryOptions
            {
                MaxRetryAttempts = maxRetryAttempts,
                AttemptTimeout = TimeSpan.FromSeconds(20),
                Randomizer = new Random(42).NextDouble,
                OnRetry = (failure, delay, _) =>
                {
                    lock (this.retries)
                    {
                        this.retries.Add((failure.Kind, delay));
                    }

                    this.firstRetry.TrySetResult();
                },
            },
        };
        return new ChatClientFactory(options, this.clock);
    }

    /// <summary>
    /// Waits until the retry layer has decided to retry and its delay timer is on the fake clock; returns the delay.
    /// Tests advance the clock by exactly that much: advancing further would also fire the next attempt's timeout timer.
    /// </summary>
    private async Task<TimeSpan> WaitForRetryDelayAsync()
    {
        await this.firstRetry.Task.WaitAsync(TimeSpan.FromSeconds(10));
        (await Eventually.TrueAsync(() => this.clock.PendingTimerCount == 1, maxSeconds: 10)).Should().BeTrue("the retry delay should be waiting on the fake clock");
        lock (this.retries)
        {
            return this.retries[^1].Delay;
        }
    }
}
