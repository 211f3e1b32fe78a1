using Kestrel.Cloud.Agents.Providers.Resilience;

namespace Kestrel.Cloud.Agents.Providers;

/// <summary>
/// Every model provider and the shared resilience settings (configuration section <c>KestrelCloud:Models</c>), plus
/// the providers implied by the environment variables users already have (<see cref="AddEnvironmentProviders(Func{string, string?})"/>).
/// </summary>
public sealed class ProvidersOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "KestrelCloud:Models";

    /// <summary>The provider an agent gets when it names none.</summary>
    /// <value>The default value is null: the only provider; with several, openai, anthropic, azure-openai in that order, else the first by name.</value>
    public string? DefaultProvider { get; set; }

    /// <summary>The providers by name (case-insensitive).</summary>
    /// <value>The default value is empty.</value>
    public IDictionary<string, ProviderOptions> Providers { get; set; } = new Dictionary<string, ProviderOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Retries of rate limits, server errors and timeouts.</summary>
    /// <value>The default value is <see cref="ProviderRetryOptions"/>'s defaults.</value>
    public ProviderRetryOptions Retry { get; set; } = new();

    /// <summary>How long failing API keys rest.</summary>
    /// <value>The default value is <see cref="ApiKeyCooldownOptions"/>'s defaults.</value>
    public ApiKeyCooldownOptions KeyCooldown { get; set; } = new();

    /// <summary>Adds providers from the process environment; see <see cref="AddEnvironmentProviders(Func{string, string?})"/>.</summary>
    public ProvidersOptions AddEnvironmentProviders() => this.AddEnvironmentProviders(Environment.GetEnvironmentVariable);

    /// <summary>
    /// Adds the providers the usual environment variables describe, without overriding configuration: a configured
    /// provider of the same name only gets the keys or base URL it lacks.
    /// <list type="bullet">
    /// <item><c>OPENAI_API_KEY</c> (several keys comma-separated) → <c>openai</c>; with <c>OPENAI_BASE_URL</c> it goes
    /// there; <c>OPENAI_BASE_URL</c> alone → an <c>openai-compatible</c> provider named <c>openai</c> without a key.</item>
    /// <item><c>ANTHROPIC_API_KEY</c> → <c>anthropic</c>.</item>
    /// <item><c>AZURE_OPENAI_ENDPOINT</c> with <c>AZURE_OPENAI_API_KEY</c> → <c>azure-openai</c>; without the key, Entra ID.</item>
    /// </list>
    /// </summary>
    public ProvidersOptions AddEnvironmentProviders(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        this.Providers ??= new Dictionary<string, ProviderOptions>(StringComparer.OrdinalIgnoreCase);
        string? Get(string name) => getVariable(name) is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;
        static List<string> Keys(string? value) =>
            value is null ? new List<string>() : value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

        string? openAIKey = Get(EnvironmentVariables.OpenAIApiKey);
        string? openAIBaseUrl = Get(EnvironmentVariables.OpenAIBaseUrl);
        if (openAIKey is not null || openAIBaseUrl is not null)
        {
            this.Merge(ProviderTypes.OpenAI, new ProviderOptions
            {
                Type = openAIKey is not null ? ProviderTypes.OpenAI : ProviderTypes.OpenAICompatible,
                BaseUrl = openAIBaseUrl,
                ApiKeys = Keys(openAIKey),
                DefaultModel = openAIBaseUrl is null ? ProviderOptions.DefaultOpenAIModel : null,
            });
        }

        if (Get(EnvironmentVariables.AnthropicApiKey) is { } anthropicKey)
        {
            this.Merge(ProviderTypes.Anthropic, new ProviderOptions
            {
                Type = ProviderTypes.Anthropic,
                ApiKeys = Keys(anthropicKey),
                DefaultModel = ProviderOptions.DefaultAnthropicModel,
            });
        }

        if (Get(EnvironmentVariables.AzureOpenAIEndpoint) is { } azureEndpoint)
        {
            List<string> azureKeys = Keys(Get(EnvironmentVariables.AzureOpenAIApiKey));
            this.Merge(ProviderTypes.AzureOpenAI, new ProviderOptions
            {
                Type = ProviderTypes.AzureOpenAI,
                BaseUrl = azureEndpoint,
                ApiKeys = azureKeys,
                UseEntraId = azureKeys.Count == 0,
            });
        }

        return this;
    }

    /// <summary>The name of the provider used when none is asked for; null when none is configured.</summary>
    public string? ResolveDefaultProvider()
    {
        if (this.Providers is null || this.Providers.Count == 0)
        {
            return null;
        }

        if (!string.IsNullOrWhiteSpace(this.DefaultProvider))
        {
            return this.Providers.Keys.FirstOrDefault(k => string.Equals(k, this.DefaultProvider.Trim(), StringComparison.OrdinalIgnoreCase));
        }

        if (this.Providers.Count == 1)
        {
            return this.Providers.Keys.First();
        }

        foreach (string preferred in new[] { ProviderTypes.OpenAI, ProviderTypes.Anthropic, ProviderTypes.AzureOpenAI })
        {
            if (this.Providers.Keys.FirstOrDefault(k => string.Equals(k, preferred, StringComparison.OrdinalIgnoreCase)) is { } name)
            {
                return name;
            }
        }

        return this.Providers.Keys.OrderBy(k => k, StringComparer.OrdinalIgnoreCase).First();
    }

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value, naming the provider and the key.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        foreach ((string name, ProviderOptions? provider) in this.Providers ?? new Dictionary<string, ProviderOptions>())
        {
            string prefix = $"Providers:{name}";
            if (provider is null)
            {
                errors.Add($"{prefix} is empty; set at least its Type.");
                continue;
            }

            string? type = ProviderTypes.Normalize(provider.Type);
            if (type is null)
            {
                errors.Add($"{prefix}:Type must be one of {string.Join(", ", ProviderTypes.All)}; it is '{provider.Type}'.");
            }

            if (!string.IsNullOrWhiteSpace(provider.BaseUrl)
                && (!Uri.TryCreate(provider.BaseUrl.Trim(), UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
            {
                errors.Add($"{prefix}:BaseUrl must be an absolute http or https URL; it is '{provider.BaseUrl}'.");
            }
            else if (string.IsNullOrWhiteSpace(provider.BaseUrl) && type is ProviderTypes.AzureOpenAI or ProviderTypes.OpenAICompatible)
            {
                errors.Add(type == ProviderTypes.AzureOpenAI
                    ? $"{prefix}:BaseUrl is required for azure-openai: set it to https://{{resource}}.openai.azure.com (or set AZURE_OPENAI_ENDPOINT)."
                    : $"{prefix}:BaseUrl is required for openai-compatible: set it to the server's OpenAI-compatible base URL, for example http://localhost:11434/v1.");
            }

            int keys = (provider.ApiKeys ?? new List<string>()).Count(k => !string.IsNullOrWhiteSpace(k));
            if (keys == 0 && type is ProviderTypes.OpenAI or ProviderTypes.Anthropic)
            {
                errors.Add($"{prefix}:ApiKeys needs at least one key for {type} (or set {(type == ProviderTypes.OpenAI ? EnvironmentVariables.OpenAIApiKey : EnvironmentVariables.AnthropicApiKey)}).");
            }

            if (type == ProviderTypes.AzureOpenAI && keys == 0 && !provider.UseEntraId)
            {
                errors.Add($"{prefix} needs ApiKeys or UseEntraId=true for azure-openai (or set {EnvironmentVariables.AzureOpenAIApiKey}).");
            }

            if (provider.UseEntraId && type is not null && type != ProviderTypes.AzureOpenAI)
            {
                errors.Add($"{prefix}:UseEntraId applies to azure-openai only; the type is {type}.");
            }

            if (provider.DefaultMaxOutputTokens < 1 || provider.DefaultMaxOutputTokens > 1_000_000)
            {
                errors.Add($"{prefix}:DefaultMaxOutputTokens must be between 1 and 1000000; it is {provider.DefaultMaxOutputTokens}.");
            }

            if ((provider.FallbackModels ?? new List<string>()).Any(string.IsNullOrWhiteSpace))
            {
                errors.Add($"{prefix}:FallbackModels must not contain blank entries.");
            }

            foreach ((string model, Usage.ModelPrice? price) in provider.Prices ?? new Dictionary<string, Usage.ModelPrice>())
            {
                if (price is null || price.Input < 0 || price.Output < 0 || price.CachedInput < 0)
                {
                    errors.Add($"{prefix}:Prices:{model} must have Input, Output and CachedInput of zero or more (dollars per million tokens).");
                }
            }
        }

        if (!string.IsNullOrWhiteSpace(this.DefaultProvider) && this.ResolveDefaultProvider() is null)
        {
            errors.Add($"DefaultProvider '{this.DefaultProvider}' is not one of the configured providers ({string.Join(", ", this.Providers?.Keys ?? Array.Empty<string>())}).");
        }

        Collect(errors, "Retry", () => (this.Retry ?? new ProviderRetryOptions()).Validate());
        Collect(errors, "KeyCooldown", () => (this.KeyCooldown ?? new ApiKeyCooldownOptions()).Validate());
        OptionsErrors.ThrowIfAny(nameof(ProvidersOptions), errors);
    }

    private static void Collect(List<string> errors, string section, Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException ex)
        {
            errors.AddRange(ex.Message.Split(Environment.NewLine).Skip(1).Select(line => $"{section}: {line.TrimStart('-', ' ')}"));
        }
    }

    private void Merge(string name, ProviderOptions fromEnvironment)
    {
        if (!this.Providers.TryGetValue(name, out ProviderOptions? configured) || configured is null)
        {
            this.Providers[name] = fromEnvironment;
            return;
        }

        // Configuration wins; the environment only fills what is missing.
        configured.Type ??= fromEnvironment.Type;
        configured.BaseUrl ??= fromEnvironment.BaseUrl;
        configured.DefaultModel ??= fromEnvironment.DefaultModel;
        if ((configured.ApiKeys ?? new List<string>()).All(string.IsNullOrWhiteSpace))
        {
            configured.ApiKeys = fromEnvironment.ApiKeys;
            configured.UseEntraId |= fromEnvironment.UseEntraId && fromEnvironment.ApiKeys.Count == 0;
        }
    }
}

/// <summary>The environment variables read by <see cref="ProvidersOptions.AddEnvironmentProviders(Func{string, string?})"/>.</summary>
public static class EnvironmentVariables
{
    /// <summary>OpenAI API key(s), comma-separated for several.</summary>
    public const string OpenAIApiKey = "OPENAI_API_KEY";

    /// <summary>An OpenAI-compatible base URL (Ollama, Groq, ...), used by the <c>openai</c> provider.</summary>
    public const string OpenAIBaseUrl = "OPENAI_BASE_URL";

    /// <summary>Anthropic API key(s).</summary>
    public const string AnthropicApiKey = "ANTHROPIC_API_KEY";

    /// <summary>The Azure OpenAI resource endpoint, <c>https://{resource}.openai.azure.com</c>.</summary>
    public const string AzureOpenAIEndpoint = "AZURE_OPENAI_ENDPOINT";

    /// <summary>The Azure OpenAI key; without it Entra ID is used.</summary>
    public const string AzureOpenAIApiKey = "AZURE_OPENAI_API_KEY";
}
