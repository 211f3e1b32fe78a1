using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Testing.Scripted;

namespace Kestrel.Cloud.Agents.Tests.Providers;

/// <summary>Provider settings that point at a scripted server.</summary>
internal static class WireProviders
{
    /// <summary>A provider pointing at <paramref name="server"/> with <paramref name="keys"/>, default model <c>model-a</c>.</summary>
    public static ProviderOptions Provider(Vendor vendor, ScriptedServer server, params string[] keys) => new()
    {
        Type = vendor == Vendor.OpenAI ? ProviderTypes.OpenAI : ProviderTypes.Anthropic,
        BaseUrl = vendor == Vendor.OpenAI ? new Uri(server.BaseUri, "v1").ToString() : server.BaseUri.ToString(),
        ApiKeys = keys.ToList(),
        DefaultModel = "model-a",
    };

}
