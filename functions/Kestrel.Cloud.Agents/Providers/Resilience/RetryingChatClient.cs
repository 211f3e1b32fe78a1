using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Polly;
using Polly.Retry;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>
/// Retries rate limits (429), transient server errors (5xx, 529) and timeouts with exponential backoff and jitter
/// (Polly.Core), waiting exactly the provider's Retry-After when it sends one. Each attempt has its own timeout
/// (<see cref="ProviderRetryOptions.AttemptTimeout"/>) on the injected <see cref="TimeProvider"/>. A streamed call is
/// retried only until its first update has been read; after that a failure reaches the caller.
/// </summary>
public sealed class RetryingChatClient : DelegatingChatClient
{
    private readonly ResiliencePipeline pipeline;
    private readonly TimeProvider timeProvider;
    private readonly TimeSpan attemptTimeout;

    /// <summary>Creates the client; <paramref name="options"/> is validated here.</summary>
    public RetryingChatClient(IChatClient innerClient, ProviderRetryOptions options, TimeProvider? timeProvider = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.attemptTimeout = options.AttemptTimeout;
        TimeSpan maxRetryAfter = options.MaxRetryAfter;
        Action<ProviderException, TimeSpan, int>? onRetry = options.OnRetry;

        var retry = new RetryStrategyOptions
        {
            MaxRetryAttempts = Math.Max(options.MaxRetryAttempts, 1),
            BackoffType = DelayBackoffType.Exponential,
            Delay = options.BaseDelay,
            MaxDelay = options.MaxDelay,
            UseJitter = options.UseJitter,
            ShouldHandle = args => ValueTask.FromResult(
                args.Outcome.Exception is ProviderException { IsRetryable: true } failure
                && !(failure.RetryAfter > maxRetryAfter)),
            DelayGenerator = args => ValueTask.FromResult(
                args.Outcome.Exception is ProviderException { RetryAfter: { } retryAfter } ? (TimeSpan?)retryAfter : null),
            OnRetry = args =>
            {
                if (args.Outcome.Exception is ProviderException failure)
                {
                    onRetry?.Invoke(failure, args.RetryDelay, args.AttemptNumber + 1);
                }

                return ValueTask.CompletedTask;
            },
        };
        if (options.Randomizer is { } randomizer)
        {
            retry.Randomizer = randomizer;
        }

        var builder = new ResiliencePipelineBuilder { TimeProvider = this.timeProvider };
        if (options.MaxRetryAttempts > 0)
        {
            builder.AddRetry(retry);
        }

        this.pipeline = builder.Build();
    }

    /// <inheritdoc/>
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        return this.pipeline.ExecuteAsync(
            async token =>
            {
                using var attempt = new Attempt(token, this.attemptTimeout, this.timeProvider);
                try
                {
                    return await base.GetResponseAsync(list, options, attempt.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (attempt.TimedOut && !token.IsCancellationRequested)
                {
                    throw this.TimeoutFailure(options, ex);
                }
            },
            cancellationToken).AsTask();
    }

    /// <inheritdoc/>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        PrimedStream stream = await this.pipeline.ExecuteAsync(
            async token =>
            {
                // The attempt's token must outlive this callback (the stream keeps reading with it), so it is linked
                // to the caller's token rather than to Polly's pooled one, and owned by the primed stream.
                var attempt = new Attempt(cancellationToken, this.attemptTimeout, this.timeProvider);
                try
                {
                    PrimedStream primed = await PrimedStream.StartAsync(base.GetStreamingResponseAsync(list, options, attempt.Token), attempt.Token, attempt).ConfigureAwait(false);
                    attempt.StopTimer();
                    return primed;
                }
                catch (OperationCanceledException ex) when (attempt.TimedOut && !cancellationToken.IsCancellationRequested)
                {
                    attempt.Dispose();
                    throw this.TimeoutFailure(options, ex);
                }
                catch
                {
                    attempt.Dispose();
                    throw;
                }
            },
            cancellationToken).ConfigureAwait(false);

        await using (stream.ConfigureAwait(false))
        {
            await foreach (ChatResponseUpdate update in stream.ReadAllAsync().ConfigureAwait(false))
            {
                yield return update;
            }
        }
    }

    private ProviderException TimeoutFailure(ChatOptions? options, Exception inner)
    {
        string provider = this.GetService<ChatClientMetadata>()?.ProviderName ?? "unknown";
        return ProviderErrors.Create(
            ProviderFailureKind.Timeout, provider, options?.ModelId, null, null, $"no answer within the attempt timeout of {this.attemptTimeout}", null, inner);
    }

    /// <summary>One attempt's cancellation: the caller's token plus a timer on the injected clock.</summary>
    private sealed class Attempt : IDisposable
    {
        private readonly CancellationTokenSource source;
        private readonly ITimer timer;
        private int timedOut;

        public Attempt(CancellationToken callerToken, TimeSpan timeout, TimeProvider timeProvider)
        {
            this.source = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
            this.timer = timeProvider.CreateTimer(
                static state =>
                {
                    var self = (Attempt)state!;
                    Interlocked.Exchange(ref self.timedOut, 1);
                    try
                    {
                        self.source.Cancel();
                    }
                    catch (ObjectDisposedException)
                    {
                    }
                },
                this,
                timeout,
                Timeout.InfiniteTimeSpan);
        }

        public CancellationToken Token => this.source.Token;

        public bool TimedOut => Volatile.Read(ref this.timedOut) == 1;

        public void StopTimer() => this.timer.Dispose();

        public void Dispose()
        {
            this.timer.Dispose();
            this.source.Dispose();
        }
    }
}
