using Anthropic.Core;

namespace Kestrel.Cloud.Agents.Providers.Anthropic;

/// <summary>
/// The Anthropic SDK's exceptions carry the status and body but not the headers, so a handler in the SDK's HTTP chain
/// records the Retry-After of an error response into the calling flow's <see cref="Scope"/>.
/// </summary>
internal static class AnthropicRetryAfter
{
    private static readonly AsyncLocal<Scope?> Current = new();

    /// <summary>Starts recording for the calling async flow; dispose to stop.</summary>
    public static Scope Begin()
    {
        var scope = new Scope(Current.Value);
        Current.Value = scope;
        return scope;
    }

    /// <summary>The handler that records Retry-After (and retry-after-ms) of non-success responses.</summary>
    public static DelegatingHandler CreateHandler(TimeProvider timeProvider) =>
        Handler.Create(async (request, next, cancellationToken) =>
        {
            HttpResponseMessage response = await next(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode && Current.Value is { } scope)
            {
                scope.RetryAfter = ProviderErrors.ParseRetryAfter(response.Headers, timeProvider.GetUtcNow());
            }

            return response;
        });

    /// <summary>One call's record. The handler runs in the caller's async flow, so it finds the scope through the AsyncLocal.</summary>
    public sealed class Scope : IDisposable
    {
        private readonly Scope? previous;

        public Scope(Scope? previous)
        {
            this.previous = previous;
        }

        public TimeSpan? RetryAfter { get; set; }

        public void Dispose() => Current.Value = this.previous;
    }
}
