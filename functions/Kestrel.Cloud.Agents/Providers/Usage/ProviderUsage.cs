using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Usage;

/// <summary>
/// Token counts and cost of one call or of many added together. <see cref="InputTokens"/> includes
/// <see cref="CachedInputTokens"/>. <see cref="CostUsd"/> sums the calls that had a price; <see cref="UnpricedCalls"/>
/// counts the ones that did not. A plain record, so a run's total can be stored and added to across processes.
/// </summary>
public sealed record ProviderUsage(long InputTokens, long OutputTokens, long CachedInputTokens, decimal CostUsd, int Calls, int UnpricedCalls)
{
    /// <summary>No usage.</summary>
    public static ProviderUsage Zero { get; } = new(0, 0, 0, 0m, 0, 0);

    /// <summary>Total tokens, input plus output.</summary>
    public long TotalTokens => this.InputTokens + this.OutputTokens;

    /// <summary>One call's usage priced with <paramref name="prices"/>.</summary>
    public static ProviderUsage FromCall(string? modelId, UsageDetails usage, PriceTable prices)
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(prices);
        decimal? cost = prices.Cost(modelId, usage);
        return new ProviderUsage(
            usage.InputTokenCount ?? 0,
            usage.OutputTokenCount ?? 0,
            usage.CachedInputTokenCount ?? 0,
            cost ?? 0m,
            1,
            cost is null ? 1 : 0);
    }

    /// <summary>The sum of two usages.</summary>
    public static ProviderUsage operator +(ProviderUsage left, ProviderUsage right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return new ProviderUsage(
            left.InputTokens + right.InputTokens,
            left.OutputTokens + right.OutputTokens,
            left.CachedInputTokens + right.CachedInputTokens,
            left.CostUsd + right.CostUsd,
            left.Calls + right.Calls,
            left.UnpricedCalls + right.UnpricedCalls);
    }
}
