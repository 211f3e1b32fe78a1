using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>
/// <c>Use*</c> for <see cref="RetryingChatClient"/>. Microsoft.Extensions.AI's ChatClientBuilder is not in the package
/// set, so the provider middleware composes on <see cref="IChatClient"/> directly: each <c>Use*</c> wraps the client it
/// is called on, innermost first.
/// </summary>
public static class RetryingChatClientExtensions
{
    /// <summary>Wraps <paramref name="innerClient"/> in a <see cref="RetryingChatClient"/>.</summary>
    public static IChatClient UseProviderRetries(this IChatClient innerClient, ProviderRetryOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(innerClient);
        return new RetryingChatClient(innerClient, options ?? new ProviderRetryOptions(), timeProvider);
    }
}
