using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary><c>Use*</c> for <see cref="ModelFallbackChatClient"/>.</summary>
public static class ModelFallbackChatClientExtensions
{
    /// <summary>Wraps <paramref name="innerClient"/> so it falls back through <paramref name="fallbackModels"/> in order.</summary>
    public static IChatClient UseModelFallback(this IChatClient innerClient, IEnumerable<string> fallbackModels, string? primaryModel = null)
    {
        ArgumentNullException.ThrowIfNull(innerClient);
        return new ModelFallbackChatClient(innerClient, fallbackModels, primaryModel);
    }
}
