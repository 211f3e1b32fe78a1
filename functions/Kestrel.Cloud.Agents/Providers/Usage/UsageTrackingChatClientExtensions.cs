using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Usage;

/// <summary><c>Use*</c> for <see cref="UsageTrackingChatClient"/>.</summary>
public static class UsageTrackingChatClientExtensions
{
    /// <summary>Wraps <paramref name="innerClient"/> so every call's usage is added to <paramref name="accumulator"/>.</summary>
    public static IChatClient UseUsageTracking(this IChatClient innerClient, UsageAccumulator accumulator)
    {
        ArgumentNullException.ThrowIfNull(innerClient);
        return new UsageTrackingChatClient(innerClient, accumulator);
    }
}
