using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Usage;

/// <summary>
/// Adds up the usage of every call of a run (or any scope), in total and per model. Thread-safe.
/// <see cref="UsageTrackingChatClient"/> feeds it; a run that spans processes stores <see cref="Total"/> and starts
/// the next accumulator from it.
/// </summary>
public sealed class UsageAccumulator
{
    private readonly PriceTable prices;
    private readonly object gate = new();
    private readonly Dictionary<string, ProviderUsage> perModel = new(StringComparer.OrdinalIgnoreCase);
    private ProviderUsage total;

    /// <summary>Creates the accumulator, optionally continuing from an earlier total.</summary>
    public UsageAccumulator(PriceTable? prices = null, ProviderUsage? start = null)
    {
        this.prices = prices ?? PriceTable.Empty;
        this.total = start ?? ProviderUsage.Zero;
    }

    /// <summary>Everything recorded so far.</summary>
    public ProviderUsage Total
    {
        get
        {
            lock (this.gate)
            {
                return this.total;
            }
        }
    }

    /// <summary>What was recorded per model (models as the provider named them).</summary>
    public IReadOnlyDictionary<string, ProviderUsage> PerModel
    {
        get
        {
            lock (this.gate)
            {
                return new Dictionary<string, ProviderUsage>(this.perModel, StringComparer.OrdinalIgnoreCase);
            }
        }
    }

    /// <summary>Records one call and returns its priced usage.</summary>
    public ProviderUsage Record(string? modelId, UsageDetails usage)
    {
        ProviderUsage call = ProviderUsage.FromCall(modelId, usage, this.prices);
        string key = modelId ?? "(unknown)";
        lock (this.gate)
        {
            this.total += call;
            this.perModel[key] = this.perModel.TryGetValue(key, out ProviderUsage? sofar) ? sofar + call : call;
        }

        return call;
    }
}
