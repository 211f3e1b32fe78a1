using Kestrel.Cloud.Agents.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>
/// Whether a model provider is configured: asks the registered <see cref="ChatClientFactory"/> when the agent engine
/// registered one, otherwise the <see cref="ProvidersOptions"/> bound from <c>KestrelCloud:Models</c> plus the usual
/// environment variables (<c>OPENAI_API_KEY</c>, ...).
/// </summary>
public sealed class ProviderStatus
{
    private readonly IServiceProvider services;

    /// <summary>Creates the status.</summary>
    public ProviderStatus(IServiceProvider services) => this.services = services;

    /// <summary>True when at least one provider is configured.</summary>
    public bool IsConfigured => this.Factory?.IsConfigured ?? this.Options.Providers.Count > 0;

    /// <summary>The configured provider names, sorted.</summary>
    public IReadOnlyList<string> ProviderNames =>
        (this.Factory?.ProviderNames ?? this.Options.Providers.Keys.ToList()).Order(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>The provider an agent gets when it names none; null when none is configured.</summary>
    public string? DefaultProviderName => this.Factory is { } factory ? factory.DefaultProviderName : this.Options.ResolveDefaultProvider();

    private ChatClientFactory? Factory => this.services.GetService<ChatClientFactory>();

    private ProvidersOptions Options => this.services.GetRequiredService<ProvidersOptions>();
}
