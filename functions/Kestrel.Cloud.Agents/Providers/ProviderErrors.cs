using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Kestrel.Cloud.Agents.Providers;

/// <summary>
/// The one place where provider errors become a <see cref="ProviderFailureKind"/>: both adapters extract the HTTP
/// status, the error type/code and message from their SDK's exception and call <see cref="Classify"/>.
/// </summary>
public static class ProviderErrors
{
    private static readonly string[] OverflowPhrases =
    {
        "prompt is too long",
        "maximum context length",
        "context_length_exceeded",
        "context length exceeded",
        "exceeds the context window",
        "context window exceeded",
    };

    private static readonly string[] BillingPhrases =
    {
        "credit balance is too low",
        "reached your specified api usage limits",
        "reached your specified workspace api usage limits",
        "exceeded your current quota",
    };

    /// <summary>Classifies a provider error from its HTTP status (null when none came), error type, error code and message.</summary>
    public static ProviderFailureKind Classify(int? statusCode, string? errorType, string? errorCode, string? message)
    {
        string type = (errorType ?? string.Empty).ToLowerInvariant();
        string code = (errorCode ?? string.Empty).ToLowerInvariant();
        string text = (message ?? string.Empty).ToLowerInvariant();

        if (code == "context_length_exceeded" || statusCode == 413 || OverflowPhrases.Any(text.Contains))
        {
            return ProviderFailureKind.ContextWindowExceeded;
        }

        if (statusCode == 402 || code is "insufficient_quota" or "billing_hard_limit_reached" or "billing_not_active"
            || type is "billing_error" or "insufficient_quota" || BillingPhrases.Any(text.Contains))
        {
            return ProviderFailureKind.Billing;
        }

        switch (statusCode)
        {
            case 401 or 403:
                return ProviderFailureKind.Authentication;
            case 404:
                return ProviderFailureKind.ModelNotFound;
            case 408:
                return ProviderFailureKind.Timeout;
            case 429:
                return ProviderFailureKind.RateLimited;
            case 409 or >= 500:
                return ProviderFailureKind.Transient;
        }

        // No status (an error event inside a stream) or an unusual one: go by the provider's error type.
        switch (type)
        {
            case "rate_limit_error" or "rate_limit_exceeded":
                return ProviderFailureKind.RateLimited;
            case "overloaded_error" or "api_error" or "server_error":
                return ProviderFailureKind.Transient;
            case "timeout_error":
                return ProviderFailureKind.Timeout;
            case "authentication_error" or "permission_error":
                return ProviderFailureKind.Authentication;
            case "not_found_error":
                return ProviderFailureKind.ModelNotFound;
        }

        return statusCode is null ? ProviderFailureKind.Transient : ProviderFailureKind.InvalidRequest;
    }

    /// <summary>True for the kinds worth retrying with the same key and model: rate limits, transient server errors, timeouts.</summary>
    public static bool IsRetryable(ProviderFailureKind kind) =>
        kind is ProviderFailureKind.RateLimited or ProviderFailureKind.Transient or ProviderFailureKind.Timeout;

    /// <summary>Creates the exception for <paramref name="kind"/>: a <see cref="ContextWindowExceededException"/> for overflow.</summary>
    public static ProviderException Create(
        ProviderFailureKind kind,
        string providerName,
        string? modelId,
        int? statusCode,
        string? errorCode,
        string? providerMessage,
        TimeSpan? retryAfter,
        Exception? innerException)
    {
        string status = statusCode is { } s ? s.ToString(CultureInfo.InvariantCulture) : "no response";
        string message = $"The model provider '{providerName}' failed ({Describe(kind)}, HTTP {status}" +
            (string.IsNullOrEmpty(errorCode) ? ")" : $", {errorCode})") +
            (modelId is null ? string.Empty : $" for model '{modelId}'") +
            (string.IsNullOrWhiteSpace(providerMessage) ? "." : $": {Truncate(providerMessage, 500)}");

        if (kind == ProviderFailureKind.ContextWindowExceeded)
        {
            return new ContextWindowExceededException(message, innerException)
            {
                StatusCode = statusCode,
                ErrorCode = errorCode,
                ProviderName = providerName,
                ModelId = modelId,
                ProviderMessage = providerMessage,
            };
        }

        return new ProviderException(kind, message, innerException)
        {
            StatusCode = statusCode,
            ErrorCode = errorCode,
            RetryAfter = retryAfter,
            ProviderName = providerName,
            ModelId = modelId,
            ProviderMessage = providerMessage,
        };
    }

    /// <summary>
    /// Classifies failures that are not the provider's answer: a timeout (the SDK's or the HTTP client's, when the
    /// caller did not cancel), a dropped connection. Returns null for anything else, and for the caller's own cancellation.
    /// </summary>
    public static ProviderException? FromTransportFailure(Exception exception, string providerName, string? modelId, CancellationToken callerToken)
    {
        if (callerToken.IsCancellationRequested)
        {
            return null;
        }

        return exception switch
        {
            TimeoutException or OperationCanceledException => Create(ProviderFailureKind.Timeout, providerName, modelId, null, null, "the call timed out", null, exception),
            HttpRequestException http when http.StatusCode is { } status => Create(Classify((int)status, null, null, http.Message), providerName, modelId, (int)status, null, http.Message, null, exception),
            HttpRequestException or IOException => Create(ProviderFailureKind.Transient, providerName, modelId, null, null, exception.Message, null, exception),
            _ => null,
        };
    }

    /// <summary>
    /// Reads how long to wait from <c>retry-after-ms</c> (milliseconds, sent by OpenAI) or <c>Retry-After</c>
    /// (seconds, possibly fractional, or an HTTP date relative to <paramref name="now"/>). Null when neither parses.
    /// </summary>
    public static TimeSpan? ParseRetryAfter(string? retryAfterMilliseconds, string? retryAfter, DateTimeOffset now)
    {
        if (double.TryParse(retryAfterMilliseconds, NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) && ms >= 0 && ms < 1e10)
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        if (string.IsNullOrWhiteSpace(retryAfter))
        {
            return null;
        }

        if (double.TryParse(retryAfter, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0 && seconds < 1e7)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        if (DateTimeOffset.TryParseExact(retryAfter.Trim(), "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date))
        {
            TimeSpan wait = date - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>Reads the Retry-After headers of an HTTP response (see <see cref="ParseRetryAfter(string, string, DateTimeOffset)"/>).</summary>
    public static TimeSpan? ParseRetryAfter(HttpResponseHeaders headers, DateTimeOffset now)
    {
        string? ms = headers.TryGetValues("retry-after-ms", out IEnumerable<string>? msValues) ? msValues.FirstOrDefault() : null;
        string? ra = headers.TryGetValues("Retry-After", out IEnumerable<string>? raValues) ? raValues.FirstOrDefault() : null;
        return ParseRetryAfter(ms, ra, now);
    }

    /// <summary>
    /// Reads <c>{"error": {"type", "code", "message"}}</c> (OpenAI, and Anthropic's <c>{"type":"error","error":{...}}</c>)
    /// from an error body. Missing parts are null; a body that is not JSON gives its text as the message.
    /// </summary>
    public static (string? Type, string? Code, string? Message) ParseErrorBody(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return (null, null, null);
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            JsonElement root = document.RootElement;
            JsonElement error = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out JsonElement e) ? e : root;
            if (error.ValueKind == JsonValueKind.String)
            {
                return (null, null, error.GetString());
            }

            if (error.ValueKind != JsonValueKind.Object)
            {
                return (null, null, Truncate(body, 500));
            }

            return (Text(error, "type"), Text(error, "code"), Text(error, "message"));
        }
        catch (JsonException)
        {
            return (null, null, Truncate(body, 500));
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;

    private static string Describe(ProviderFailureKind kind) => kind switch
    {
        ProviderFailureKind.RateLimited => "rate limited",
        ProviderFailureKind.Transient => "server error",
        ProviderFailureKind.Timeout => "timed out",
        ProviderFailureKind.Authentication => "authentication failed",
        ProviderFailureKind.Billing => "billing or quota",
        ProviderFailureKind.ModelNotFound => "model not found",
        ProviderFailureKind.ContextWindowExceeded => "context window exceeded",
        _ => "invalid request",
    };

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
