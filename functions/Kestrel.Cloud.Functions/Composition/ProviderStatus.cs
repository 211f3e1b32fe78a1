using Kestrel.Cloud.Agents.Providers;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>
/// Whether a model provider is configured, as the agent engine's <see cref="ChatClientFactory"/> (<c>KestrelCloud:Models</c>
/// plus the usual environment variables such as <c>OPENAI_API_KEY</c>) sees it.
/// </summary>
public sealed class ProviderStatus
{
    private readonly ChatClientFactory factory;

    /// <summary>Creates the status.</summary>
    public ProviderStatus(ChatClientFactory factory) => this.factory = factory;

    /// <summary>True when at least one provider is configured.</summary>
    public bool IsConfigured => this.factory.IsConfigured;

    /// <summary>The configured provider names, sorted.</summary>
    public IReadOnlyList<string> ProviderNames => this.factory.ProviderNames.Order(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>The provider an agent gets when it names none; null when none is configured.</summary>
    public string? DefaultProviderName => this.factory.DefaultProviderName;
}
