using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>Builds a <see cref="KeyRotatingChatClient"/>: the innermost piece of a provider's pipeline.</summary>
public static class KeyRotatingChatClientExtensions
{
    /// <summary>A client that rotates through <paramref name="pool"/>, creating one inner client per key with <paramref name="clientForKey"/>.</summary>
    public static IChatClient UseKeyRotation(this ApiKeyPool pool, Func<string, IChatClient> clientForKey, string providerName)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return new KeyRotatingChatClient(pool, clientForKey, providerName);
    }
}
