using Kestrel.Cloud.Agents.Providers.Usage;

namespace Kestrel.Cloud.Agents.Providers;

/// <summary>One named model provider (configuration <c>KestrelCloud:Models:Providers:{name}</c>).</summary>
public sealed class ProviderOptions
{
    /// <summary>The OpenAI model used when neither the agent nor <see cref="DefaultModel"/> names one and the provider came from OPENAI_API_KEY.</summary>
    public const string DefaultOpenAIModel = "gpt-4o-mini";

    /// <summary>The Anthropic model used when the provider came from ANTHROPIC_API_KEY and no model is named.</summary>
    public const string DefaultAnthropicModel = "claude-sonnet-4-5";

    /// <summary>
    /// <c>openai</c>, <c>azure-openai</c>, <c>anthropic</c> or <c>openai-compatible</c> (Ollama, Groq, DeepSeek,
    /// OpenRouter, Gemini's OpenAI endpoint, ...). See <see cref="ProviderTypes"/>.
    /// </summary>
    /// <value>The default value is null; it must be set.</value>
    public string? Type { get; set; }

    /// <summary>
    /// The API base URL. openai: <c>https://api.openai.com/v1</c> when empty. azure-openai (required):
    /// <c>https://{resource}.openai.azure.com</c>, to which <c>/openai/v1/</c> is added when missing. anthropic:
    /// <c>https://api.anthropic.com</c> when empty. openai-compatible (required): the URL that precedes
    /// <c>/chat/completions</c>, for example <c>http://localhost:11434/v1</c>.
    /// </summary>
    /// <value>The default value is null.</value>
    public string? BaseUrl { get; set; }

    /// <summary>API keys, tried in order with cooldowns (see docs/providers.md). Required for openai and anthropic; optional for openai-compatible; for azure-openai, keys or <see cref="UseEntraId"/>.</summary>
    /// <value>The default value is empty.</value>
    public IList<string> ApiKeys { get; set; } = new List<string>();

    /// <summary>azure-openai only: authenticate with Entra ID (DefaultAzureCredential: managed identity, Azure CLI, ...) instead of keys.</summary>
    /// <value>The default value is false.</value>
    public bool UseEntraId { get; set; }

    /// <summary>The model (Azure: deployment name) when the agent names none.</summary>
    /// <value>The default value is null: the agent must name a model.</value>
    public string? DefaultModel { get; set; }

    /// <summary>Models tried in order when the requested one does not exist or keeps failing after retries.</summary>
    /// <value>The default value is empty.</value>
    public IList<string> FallbackModels { get; set; } = new List<string>();

    /// <summary>Prices per model in dollars per million tokens; models without a price have no cost.</summary>
    /// <value>The default value is empty.</value>
    public IDictionary<string, ModelPrice> Prices { get; set; } = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The output token limit sent when the call sets none (Anthropic requires one).</summary>
    /// <value>The default value is 4096.</value>
    public int DefaultMaxOutputTokens { get; set; } = 4096;

    /// <summary>The base URL the SDK is given: defaults filled in, Azure's <c>/openai/v1/</c> added, one trailing slash.</summary>
    public Uri? ResolveBaseUri()
    {
        string? url = string.IsNullOrWhiteSpace(this.BaseUrl) ? null : this.BaseUrl.Trim();
        string? type = ProviderTypes.Normalize(this.Type);
        url ??= type switch
        {
            ProviderTypes.OpenAI => "https://api.openai.com/v1",
            ProviderTypes.Anthropic => "https://api.anthropic.com",
            _ => null,
        };
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out Uri? uri))
        {
            return null;
        }

        string path = uri.AbsolutePath.TrimEnd('/');
        if (type == ProviderTypes.AzureOpenAI && !path.EndsWith("/openai/v1", StringComparison.OrdinalIgnoreCase))
        {
            path += "/openai/v1";
        }

        return new UriBuilder(uri) { Path = path + "/" }.Uri;
    }
}

/// <summary>The provider types <see cref="ProviderOptions.Type"/> accepts.</summary>
public static class ProviderTypes
{
    /// <summary>OpenAI (api.openai.com), bearer key.</summary>
    public const string OpenAI = "openai";

    /// <summary>Azure OpenAI's v1 endpoint, <c>api-key</c> header or Entra ID.</summary>
    public const string AzureOpenAI = "azure-openai";

    /// <summary>Anthropic's Messages API through its official SDK.</summary>
    public const string Anthropic = "anthropic";

    /// <summary>Any server speaking OpenAI's Chat Completions at a base URL; the key is optional.</summary>
    public const string OpenAICompatible = "openai-compatible";

    /// <summary>Every accepted type.</summary>
    public static IReadOnlyList<string> All { get; } = new[] { OpenAI, AzureOpenAI, Anthropic, OpenAICompatible };

    /// <summary>The type in its canonical spelling (case-insensitive match), or null when it is not one of <see cref="All"/>.</summary>
    public static string? Normalize(string? type) =>
        All.FirstOrDefault(t => string.Equals(t, type?.Trim(), StringComparison.OrdinalIgnoreCase));
}
