using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using Azure.Core;
using Azure.Identity;
using Kestrel.Cloud.Agents.Providers.Anthropic;
using Kestrel.Cloud.Agents.Providers.OpenAI;
using Kestrel.Cloud.Agents.Providers.Resilience;
using Kestrel.Cloud.Agents.Providers.Usage;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Kestrel.Cloud.Agents.Providers;

/// <summary>
/// Builds the resilient <see cref="IChatClient"/> for a provider and model: per-key SDK adapters behind an
/// <see cref="ApiKeyPool"/> (shared per provider, so cooldowns outlive a call), then retries, then fallback models:
/// <c>adapter(key) → KeyRotatingChatClient → RetryingChatClient → ModelFallbackChatClient</c>. The turn adds
/// <c>UseContextCompaction</c> and <c>UseUsageTracking</c> on top. Thread-safe; one per process.
/// </summary>
public sealed class ChatClientFactory : IDisposable
{
    private readonly ProvidersOptions options;
    private readonly TimeProvider timeProvider;
    private readonly Lazy<TokenCredential> azureCredential;
    private readonly ConcurrentDictionary<string, Lazy<IChatClient>> cores = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, ApiKeyPool> pools = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentBag<IDisposable> owned = new();

    /// <summary>Creates the factory; <paramref name="options"/> is validated here (all errors in one exception).</summary>
    /// <param name="options">The providers, usually bound from <see cref="ProvidersOptions.SectionName"/> plus <see cref="ProvidersOptions.AddEnvironmentProviders()"/>.</param>
    /// <param name="timeProvider">The clock for retry delays, attempt timeouts and key cooldowns.</param>
    /// <param name="azureCredential">The Entra ID credential for azure-openai providers with UseEntraId; the default is DefaultAzureCredential, created on first use.</param>
    public ChatClientFactory(ProvidersOptions options, TimeProvider? timeProvider = null, TokenCredential? azureCredential = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.azureCredential = new Lazy<TokenCredential>(() => azureCredential ?? new DefaultAzureCredential());
    }

    /// <summary>True when at least one provider is configured.</summary>
    public bool IsConfigured => this.options.Providers.Count > 0;

    /// <summary>The configured provider names.</summary>
    public IReadOnlyCollection<string> ProviderNames => this.options.Providers.Keys.ToList();

    /// <summary>The provider used when none is named; null when none is configured.</summary>
    public string? DefaultProviderName => this.options.ResolveDefaultProvider();

    /// <summary>
    /// The client for <paramref name="providerName"/> (default: <see cref="DefaultProviderName"/>; a name that is not
    /// configured matches the one provider of that type, if there is exactly one) and <paramref name="modelId"/>
    /// (default: the provider's DefaultModel), with the provider's fallback models.
    /// </summary>
    /// <exception cref="ProviderNotConfiguredException">No such provider, or no model to use.</exception>
    public IChatClient CreateChatClient(string? providerName = null, string? modelId = null)
    {
        (string name, ProviderOptions provider) = this.Resolve(providerName);
        string model = modelId ?? provider.DefaultModel ?? throw new ProviderNotConfiguredException(
            $"The model provider '{name}' has no default model and none was asked for: name a model in the agent's AGENT.md (model:) or set {ProvidersOptions.SectionName}:Providers:{name}:DefaultModel.",
            name,
            Array.Empty<string>());

        IChatClient core = this.cores.GetOrAdd(name, n => new Lazy<IChatClient>(() => this.CreateCore(n, provider))).Value;
        return new SharedClient(core)
            .UseProviderRetries(this.options.Retry, this.timeProvider)
            .UseModelFallback(provider.FallbackModels ?? new List<string>(), model);
    }

    /// <summary>The prices configured for <paramref name="providerName"/> (default provider when null); empty when unknown.</summary>
    public PriceTable GetPriceTable(string? providerName = null)
    {
        string? name = providerName ?? this.DefaultProviderName;
        return name is not null && this.options.Providers.TryGetValue(name, out ProviderOptions? provider) && provider?.Prices is { } prices
            ? new PriceTable(prices)
            : PriceTable.Empty;
    }

    /// <summary>The key pool of a provider that uses keys (after its first client was created); null otherwise.</summary>
    public ApiKeyPool? GetKeyPool(string providerName) => this.pools.TryGetValue(providerName, out ApiKeyPool? pool) ? pool : null;

    /// <summary>The exception thrown when <paramref name="providerName"/> (or any provider, when null) is not configured; its message names the variables to set.</summary>
    public static ProviderNotConfiguredException NotConfigured(string? providerName)
    {
        if (providerName is null)
        {
            return new ProviderNotConfiguredException(
                $"No model provider is configured. Set {EnvironmentVariables.OpenAIApiKey} (OpenAI), {EnvironmentVariables.AnthropicApiKey} (Anthropic), " +
                $"or {EnvironmentVariables.AzureOpenAIEndpoint} and {EnvironmentVariables.AzureOpenAIApiKey} (Azure OpenAI); " +
                $"{EnvironmentVariables.OpenAIBaseUrl} points at an OpenAI-compatible server. Or configure providers under {ProvidersOptions.SectionName}:Providers (see docs/providers.md).",
                null,
                new[] { EnvironmentVariables.OpenAIApiKey, EnvironmentVariables.AnthropicApiKey, EnvironmentVariables.AzureOpenAIEndpoint, EnvironmentVariables.AzureOpenAIApiKey, EnvironmentVariables.OpenAIBaseUrl });
        }

        string[] variables = providerName.ToLowerInvariant() switch
        {
            ProviderTypes.OpenAI => new[] { EnvironmentVariables.OpenAIApiKey },
            ProviderTypes.Anthropic => new[] { EnvironmentVariables.AnthropicApiKey },
            ProviderTypes.AzureOpenAI => new[] { EnvironmentVariables.AzureOpenAIEndpoint, EnvironmentVariables.AzureOpenAIApiKey },
            _ => Array.Empty<string>(),
        };
        string set = variables.Length switch
        {
            0 => string.Empty,
            1 => $"Set {variables[0]}, or ",
            _ => $"Set {string.Join(" and ", variables)}, or ",
        };
        return new ProviderNotConfiguredException(
            $"The model provider '{providerName}' is not configured. {set}{(set.Length == 0 ? "C" : "c")}onfigure {ProvidersOptions.SectionName}:Providers:{providerName} (Type, BaseUrl, ApiKeys; see docs/providers.md).",
            providerName,
            variables);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (Lazy<IChatClient> core in this.cores.Values.Where(c => c.IsValueCreated))
        {
            core.Value.Dispose();
        }

        foreach (IDisposable disposable in this.owned)
        {
            disposable.Dispose();
        }

        this.cores.Clear();
    }

    private (string Name, ProviderOptions Provider) Resolve(string? providerName)
    {
        if (!this.IsConfigured)
        {
            throw NotConfigured(providerName);
        }

        string? name = providerName ?? this.DefaultProviderName;
        if (name is not null && this.options.Providers.TryGetValue(name, out ProviderOptions? byName) && byName is not null)
        {
            return (this.options.Providers.Keys.First(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)), byName);
        }

        // An agent may name a type ("anthropic") while the provider is configured under another name ("claude").
        var byType = this.options.Providers.Where(p => ProviderTypes.Normalize(p.Value?.Type) is { } type && string.Equals(type, name, StringComparison.OrdinalIgnoreCase)).ToList();
        if (byType.Count == 1)
        {
            return (byType[0].Key, byType[0].Value);
        }

        throw NotConfigured(name);
    }

    private IChatClient CreateCore(string name, ProviderOptions provider)
    {
        string type = ProviderTypes.Normalize(provider.Type)!;
        Uri? baseUri = provider.ResolveBaseUri();
        List<string> keys = (provider.ApiKeys ?? new List<string>()).Where(k => !string.IsNullOrWhiteSpace(k)).ToList();
        TimeSpan sdkTimeout = this.options.Retry.AttemptTimeout + TimeSpan.FromSeconds(5);

        if (type == ProviderTypes.Anthropic)
        {
            return this.Rotate(name, keys, key =>
            {
                global::Anthropic.AnthropicClient sdk = AnthropicChatClientAdapter.CreateClient(key, baseUri, sdkTimeout, this.timeProvider);
                this.owned.Add(sdk);
                return new AnthropicChatClientAdapter(sdk, provider.DefaultModel, provider.DefaultMaxOutputTokens, name);
            });
        }

        OpenAIClientOptions ClientOptions() => new()
        {
            Endpoint = baseUri,
            RetryPolicy = new ClientRetryPolicy(0),
            NetworkTimeout = sdkTimeout,
        };

        IChatClient OpenAIAdapter(AuthenticationPolicy authentication) =>
            new OpenAIChatClientAdapter(ClientOptions(), authentication, provider.DefaultModel, name, this.timeProvider);

        if (type == ProviderTypes.AzureOpenAI)
        {
            return keys.Count > 0
                ? this.Rotate(name, keys, key => OpenAIAdapter(OpenAIAuthentication.AzureApiKey(key)))
                : OpenAIAdapter(OpenAIAuthentication.EntraId(this.azureCredential.Value));
        }

        if (keys.Count == 0)
        {
            // openai-compatible without a key (Ollama, a local server): the SDK still wants a credential; it is not checked.
            return OpenAIAdapter(OpenAIAuthentication.BearerKey("no-key"));
        }

        return this.Rotate(name, keys, key => OpenAIAdapter(OpenAIAuthentication.BearerKey(key)));
    }

    private IChatClient Rotate(string name, List<string> keys, Func<string, IChatClient> clientForKey)
    {
        ApiKeyPool pool = this.pools.GetOrAdd(name, _ => new ApiKeyPool(keys, this.options.KeyCooldown, this.timeProvider));
        return pool.UseKeyRotation(clientForKey, name);
    }

    /// <summary>Hands a shared per-provider client to a pipeline without letting the pipeline's Dispose dispose it.</summary>
    private sealed class SharedClient : DelegatingChatClient
    {
        public SharedClient(IChatClient inner)
            : base(inner)
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
