namespace Kestrel.Cloud.Agents.Providers;

/// <summary>
/// A classified failure of a model provider call. The adapters throw it in place of the SDK's own exceptions (kept as
/// <see cref="Exception.InnerException"/>), so the resilience layers decide on <see cref="Kind"/> alone.
/// </summary>
public class ProviderException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ProviderException(ProviderFailureKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        this.Kind = kind;
    }

    /// <summary>The kind of failure.</summary>
    public ProviderFailureKind Kind { get; }

    /// <summary>The HTTP status the provider answered with; null when no response came (timeouts, dropped connections).</summary>
    public int? StatusCode { get; init; }

    /// <summary>The provider's machine-readable error code or type (<c>rate_limit_exceeded</c>, <c>authentication_error</c>), when it sent one.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>The provider's own error message (or what happened, when there was no answer), without this exception's prefix.</summary>
    public string? ProviderMessage { get; init; }

    /// <summary>How long the provider asked to wait (the Retry-After header), when it said.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>The configured provider name (for example <c>openai</c>), when known.</summary>
    public string? ProviderName { get; init; }

    /// <summary>The model the failed call asked for, when known.</summary>
    public string? ModelId { get; init; }

    /// <summary>True for kinds the retry layer retries: <see cref="ProviderFailureKind.RateLimited"/>, <see cref="ProviderFailureKind.Transient"/>, <see cref="ProviderFailureKind.Timeout"/>.</summary>
    public bool IsRetryable => ProviderErrors.IsRetryable(this.Kind);
}
