using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Usage;

/// <summary>
/// Model prices from configuration and the cost of a call. A model is found by its exact name (case-insensitive), else
/// by the longest configured name it starts with followed by '-' (so <c>gpt-4o</c> prices <c>gpt-4o-2024-08-06</c>).
/// </summary>
public sealed class PriceTable
{
    private readonly Dictionary<string, ModelPrice> prices;

    /// <summary>Creates the table.</summary>
    public PriceTable(IEnumerable<KeyValuePair<string, ModelPrice>> prices)
    {
        ArgumentNullException.ThrowIfNull(prices);
        this.prices = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
        foreach ((string model, ModelPrice price) in prices)
        {
            this.prices[model] = price;
        }
    }

    /// <summary>A table with no prices: every cost is unknown.</summary>
    public static PriceTable Empty { get; } = new(Array.Empty<KeyValuePair<string, ModelPrice>>());

    /// <summary>The configured models.</summary>
    public IReadOnlyCollection<string> Models => this.prices.Keys;

    /// <summary>The price of <paramref name="modelId"/>; false when none is configured.</summary>
    public bool TryGetPrice(string? modelId, out ModelPrice price)
    {
        price = null!;
        if (string.IsNullOrEmpty(modelId))
        {
            return false;
        }

        if (this.prices.TryGetValue(modelId, out ModelPrice? exact))
        {
            price = exact;
            return true;
        }

        string? best = this.prices.Keys
            .Where(k => modelId.StartsWith(k + "-", StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(k => k.Length)
            .FirstOrDefault();
        if (best is null)
        {
            return false;
        }

        price = this.prices[best];
        return true;
    }

    /// <summary>
    /// The cost in dollars of one call's usage: uncached input × Input + cached input × CachedInput + output × Output,
    /// per million tokens. Null when the model has no price.
    /// </summary>
    public decimal? Cost(string? modelId, UsageDetails usage)
    {
        ArgumentNullException.ThrowIfNull(usage);
        if (!this.TryGetPrice(modelId, out ModelPrice price))
        {
            return null;
        }

        long input = usage.InputTokenCount ?? 0;
        long cached = Math.Min(usage.CachedInputTokenCount ?? 0, input);
        long output = usage.OutputTokenCount ?? 0;
        decimal dollars = ((input - cached) * price.Input) + (cached * (price.CachedInput ?? price.Input)) + (output * price.Output);
        return dollars / 1_000_000m;
    }
}
