namespace Kestrel.Cloud.Agents.Providers.Usage;

/// <summary>What one model costs, in US dollars per million tokens (configuration: <c>Prices:{model}:Input</c> and so on).</summary>
public sealed class ModelPrice
{
    /// <summary>Dollars per 1M input tokens that were not read from the prompt cache.</summary>
    /// <value>The default value is 0.</value>
    public decimal Input { get; set; }

    /// <summary>Dollars per 1M output tokens (reasoning tokens included).</summary>
    /// <value>The default value is 0.</value>
    public decimal Output { get; set; }

    /// <summary>Dollars per 1M input tokens read from the prompt cache.</summary>
    /// <value>The default value is null: cached tokens cost <see cref="Input"/>.</value>
    public decimal? CachedInput { get; set; }
}
