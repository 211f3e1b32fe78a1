using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Providers.Usage;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Tests.Providers;

/// <summary>Prices, cost, and usage accumulated per call and per run.</summary>
public sealed class UsageTests
{
    private static readonly PriceTable Prices = new(new Dictionary<string, ModelPrice>
    {
        ["gpt-4o"] = new() { Input = 2.5m, Output = 10m, CachedInput = 1.25m },
        ["gpt-4o-mini"] = new() { Input = 0.15m, Output = 0.6m },
        ["claude-test"] = new() { Input = 3m, Output = 15m, CachedInput = 0.3m },
    });

    [Fact]
    public void Cost_CachedTokens_PricedAtTheCachedRate()
    {
        var usage = new UsageDetails { InputTokenCount = 1_000_000, CachedInputTokenCount = 400_000, OutputTokenCount = 100_000 };

        decimal? cost = Prices.Cost("gpt-4o", usage);

        cost.Should().Be((600_000 * 2.5m + 400_000 * 1.25m + 100_000 * 10m) / 1_000_000m);
    }

    [Fact]
    public void Cost_NoCachedPrice_CachedTokensCostTheInputRate()
    {
        var usage = new UsageDetails { InputTokenCount = 2_000_000, CachedInputTokenCount = 1_000_000, OutputTokenCount = 0 };

        Prices.Cost("gpt-4o-mini", usage).Should().Be(0.30m);
    }

    [Theory]
    [InlineData("gpt-4o-2024-08-06", 2.5)]
    [InlineData("GPT-4O", 2.5)]
    [InlineData("gpt-4o-mini-2024-07-18", 0.15)]
    public void TryGetPrice_DatedOrDifferentlyCasedName_FindsTheLongestConfiguredPrefix(string model, double input)
    {
        Prices.TryGetPrice(model, out ModelPrice price).Should().BeTrue();
        price.Input.Should().Be((decimal)input);
    }

    [Fact]
    public void Cost_UnknownModel_IsNullAndCountedAsUnpriced()
    {
        var accumulator = new UsageAccumulator(Prices);

        ProviderUsage call = accumulator.Record("llama-3-70b", new UsageDetails { InputTokenCount = 10, OutputTokenCount = 1 });

        Prices.Cost("llama-3-70b", new UsageDetails()).Should().BeNull();
        call.UnpricedCalls.Should().Be(1);
        accumulator.Total.CostUsd.Should().Be(0m);
    }

    [Fact]
    public async Task UseUsageTracking_CallsThroughTheSdks_AccumulatesPerCallPerModelAndPerRun()
    {
        await using ScriptedServer server = await ScriptedServer.StartAsync();
        server.Enqueue(
            AnthropicWire.Text("one", new AnthropicWire.Usage(600_000, 100_000, CacheRead: 400_000)),
            AnthropicWire.StreamText(new AnthropicWire.Usage(1_000, 500), "two"));
        var options = new ProvidersOptions
        {
            Providers = { ["anthropic"] = new ProviderOptions { Type = "anthropic", BaseUrl = server.BaseUri.ToString(), ApiKeys = { "k" }, DefaultModel = "claude-test" } },
        };
        using var factory = new ChatClientFactory(options);
        var run = new UsageAccumulator(Prices);
        IChatClient client = factory.CreateChatClient().UseUsageTracking(run);

        ChatResponse first = await client.GetResponseAsync(ProviderTestData.Conversation());
        await ProviderTestData.CollectAsync(client.GetStreamingResponseAsync(ProviderTestData.Conversation()));

        var firstCall = (ProviderUsage)first.AdditionalProperties![UsageTrackingChatClient.CallUsageKey]!;
        firstCall.InputTokens.Should().Be(1_000_000);
        firstCall.CachedInputTokens.Should().Be(400_000);
        firstCall.CostUsd.Should().Be((600_000 * 3m + 400_000 * 0.3m + 100_000 * 15m) / 1_000_000m);
        run.Total.Calls.Should().Be(2);
        run.Total.InputTokens.Should().Be(1_001_000);
        run.Total.OutputTokens.Should().Be(100_500);
        run.Total.CostUsd.Should().Be(firstCall.CostUsd + (1_000 * 3m + 500 * 15m) / 1_000_000m);
        run.PerModel.Should().ContainKey("claude-test").WhoseValue.Calls.Should().Be(2);
    }

    [Fact]
    public void UsageAccumulator_StartedFromAStoredTotal_ContinuesTheRun()
    {
        var earlier = new ProviderUsage(100, 10, 0, 0.5m, 1, 0);
        var accumulator = new UsageAccumulator(Prices, earlier);

        accumulator.Record("gpt-4o", new UsageDetails { InputTokenCount = 1_000_000, OutputTokenCount = 0 });

        accumulator.Total.Should().Be(new ProviderUsage(1_000_100, 10, 0, 3.0m, 2, 0));
    }
}
