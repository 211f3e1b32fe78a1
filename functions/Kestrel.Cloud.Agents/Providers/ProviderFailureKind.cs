namespace Kestrel.Cloud.Agents.Providers;

/// <summary>
/// Why a call to a model provider failed, in the few kinds the resilience layers act on. Every provider error is
/// classified once, by <see cref="ProviderErrors.Classify"/>.
/// </summary>
public enum ProviderFailureKind
{
    /// <summary>429 or a provider's rate-limit error: retried after Retry-After (or a backoff); the key cools down briefly.</summary>
    RateLimited,

    /// <summary>5xx, 529 overloaded, 409, a dropped connection: retried with backoff; not the key's fault.</summary>
    Transient,

    /// <summary>The call took longer than its attempt timeout, or the server answered 408: retried with backoff.</summary>
    Timeout,

    /// <summary>401 or 403: the key is wrong or lacks permission; it cools down for a long time and the next key is tried.</summary>
    Authentication,

    /// <summary>Out of credit or quota (402, OpenAI <c>insufficient_quota</c>, Anthropic <c>billing_error</c>): the key cools down for a long time.</summary>
    Billing,

    /// <summary>The model or deployment does not exist (404): the next fallback model is tried.</summary>
    ModelNotFound,

    /// <summary>The prompt does not fit the model's context window: thrown as <see cref="ContextWindowExceededException"/>.</summary>
    ContextWindowExceeded,

    /// <summary>Any other 4xx: the request itself is wrong; nothing is retried.</summary>
    InvalidRequest,
}
