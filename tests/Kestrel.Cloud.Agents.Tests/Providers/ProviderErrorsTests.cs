using Kestrel.Cloud.Agents.Providers;

namespace Kestrel.Cloud.Agents.Tests.Providers;

/// <summary>The one classification of provider errors.</summary>
public sealed class ProviderErrorsTests
{
    [Theory]
    [InlineData(429, "requests", "rate_limit_exceeded", "Rate limit reached", ProviderFailureKind.RateLimited)]
    [InlineData(429, "insufficient_quota", "insufficient_quota", "You exceeded your current quota", ProviderFailureKind.Billing)]
    [InlineData(400, "invalid_request_error", null, "Your credit balance is too low to access the Anthropic API.", ProviderFailureKind.Billing)]
    [InlineData(402, "billing_error", null, "billing", ProviderFailureKind.Billing)]
    [InlineData(401, "invalid_request_error", "invalid_api_key", "Incorrect API key", ProviderFailureKind.Authentication)]
    [InlineData(403, "permission_error", null, "not allowed", ProviderFailureKind.Authentication)]
    [InlineData(404, "invalid_request_error", "model_not_found", "The model does not exist", ProviderFailureKind.ModelNotFound)]
    [InlineData(400, "invalid_request_error", "context_length_exceeded", "maximum context length is 128000 tokens", ProviderFailureKind.ContextWindowExceeded)]
    [InlineData(400, "invalid_request_error", null, "prompt is too long: 215000 tokens > 200000 maximum", ProviderFailureKind.ContextWindowExceeded)]
    [InlineData(413, "request_too_large", null, "Request exceeds the maximum size", ProviderFailureKind.ContextWindowExceeded)]
    [InlineData(500, "server_error", null, "oops", ProviderFailureKind.Transient)]
    [InlineData(529, "overloaded_error", null, "Overloaded", ProviderFailureKind.Transient)]
    [InlineData(408, null, null, "timeout", ProviderFailureKind.Timeout)]
    [InlineData(400, "invalid_request_error", null, "messages: field required", ProviderFailureKind.InvalidRequest)]
    [InlineData(null, "overloaded_error", null, "Overloaded", ProviderFailureKind.Transient)]
    [InlineData(null, "rate_limit_error", null, "slow down", ProviderFailureKind.RateLimited)]
    public void Classify_ProviderErrors_GivesTheKind(int? status, string? type, string? code, string message, ProviderFailureKind expected) =>
        ProviderErrors.Classify(status, type, code, message).Should().Be(expected);

    [Theory]
    [InlineData("1500", null, 1.5)]
    [InlineData(null, "7", 7)]
    [InlineData(null, "0.25", 0.25)]
    [InlineData(null, "Thu, 01 Jan 2026 00:00:30 GMT", 30)]
    public void ParseRetryAfter_HeaderForms_GiveTheWait(string? milliseconds, string? retryAfter, double seconds) =>
        ProviderErrors.ParseRetryAfter(milliseconds, retryAfter, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
            .Should().Be(TimeSpan.FromSeconds(seconds));

    [Fact]
    public void ParseRetryAfter_Garbage_IsNull() =>
        ProviderErrors.ParseRetryAfter("soon", "later", DateTimeOffset.UnixEpoch).Should().BeNull();
}
