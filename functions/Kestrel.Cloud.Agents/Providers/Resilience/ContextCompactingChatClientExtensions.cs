using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary><c>Use*</c> for <see cref="ContextCompactingChatClient"/>.</summary>
public static class ContextCompactingChatClientExtensions
{
    /// <summary>Wraps <paramref name="innerClient"/> so a context-window overflow is compacted with <paramref name="compactor"/> and retried once.</summary>
    public static IChatClient UseContextCompaction(this IChatClient innerClient, ChatHistoryCompactor compactor)
    {
        ArgumentNullException.ThrowIfNull(innerClient);
        return new ContextCompactingChatClient(innerClient, compactor);
    }
}
