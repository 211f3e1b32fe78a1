using System.ClientModel;
using System.ClientModel.Primitives;
using Azure.Core;

namespace Kestrel.Cloud.Agents.Providers.OpenAI;

/// <summary>The ways <see cref="OpenAIChatClientAdapter"/> authenticates: OpenAI-style bearer key, Azure <c>api-key</c> header, Entra ID.</summary>
public static class OpenAIAuthentication
{
    /// <summary>The scope of Azure OpenAI (Cognitive Services) tokens.</summary>
    public const string AzureOpenAIScope = "https://cognitiveservices.azure.com/.default";

    /// <summary><c>Authorization: Bearer {key}</c>, as OpenAI and most compatible servers expect.</summary>
    public static AuthenticationPolicy BearerKey(string apiKey) =>
        ApiKeyAuthenticationPolicy.CreateBearerAuthorizationPolicy(new ApiKeyCredential(apiKey));

    /// <summary><c>api-key: {key}</c>, Azure OpenAI's key header.</summary>
    public static AuthenticationPolicy AzureApiKey(string apiKey) =>
        ApiKeyAuthenticationPolicy.CreateHeaderApiKeyPolicy(new ApiKeyCredential(apiKey), "api-key", null);

    /// <summary>An Entra ID bearer token for <see cref="AzureOpenAIScope"/> from <paramref name="credential"/> (for example DefaultAzureCredential), cached and refreshed by the policy.</summary>
    public static AuthenticationPolicy EntraId(TokenCredential credential) =>
        new BearerTokenPolicy(credential, AzureOpenAIScope);
}
