using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>
/// Sends each call with the first API key of an <see cref="ApiKeyPool"/> that is not cooling down, through a per-key
/// inner client. A key failing with authentication, billing or a rate limit is cooled down and the next key is tried at
/// once; other failures pass through. With every key resting it throws a <see cref="ProviderException"/> whose
/// <see cref="ProviderException.RetryAfter"/> says when one comes back (retryable when a key rests for a rate limit).
/// Unlike the other middleware it routes among several inner clients, so it is not a <see cref="DelegatingChatClient"/>.
/// </summary>
public sealed class KeyRotatingChatClient : IChatClient
{
    private readonly ApiKeyPool pool;
    private readonly Func<string, IChatClient> clientForKey;
    private readonly ConcurrentDictionary<int, IChatClient> clients = new();
    private readonly string providerName;

    /// <summary>Creates the client.</summary>
    /// <param name="pool">The keys and their cooldowns (shared across calls).</param>
    /// <param name="clientForKey">Creates the inner client for one key (an adapter); each is created once and kept.</param>
    /// <param name="providerName">The provider name, for error messages.</param>
    public KeyRotatingChatClient(ApiKeyPool pool, Func<string, IChatClient> clientForKey, string providerName)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(clientForKey);
        this.pool = pool;
        this.clientForKey = clientForKey;
        this.providerName = providerName;
    }

    /// <summary>The pool this client rotates through.</summary>
    public ApiKeyPool Pool => this.pool;

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        ProviderException? last = null;
        for (int attempt = 0; attempt < this.pool.Count; attempt++)
        {
            if (!this.pool.TryAcquire(out int index))
            {
                break;
            }

            try
            {
                return await this.Client(index).GetResponseAsync(list, options, cancellationToken).ConfigureAwait(false);
            }
            catch (ProviderException ex) when (ApiKeyPool.IsKeyFailure(ex.Kind))
            {
                this.pool.ReportFailure(index, ex);
                last = ex;
            }
        }

        throw this.Exhausted(options, last);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        ProviderException? last = null;
        PrimedStream? stream = null;
        for (int attempt = 0; attempt < this.pool.Count && stream is null; attempt++)
        {
            if (!this.pool.TryAcquire(out int index))
            {
                break;
            }

            try
            {
                stream = await PrimedStream.StartAsync(this.Client(index).GetStreamingResponseAsync(list, options, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (ProviderException ex) when (ApiKeyPool.IsKeyFailure(ex.Kind))
            {
                this.pool.ReportFailure(index, ex);
                last = ex;
            }
        }

        if (stream is null)
        {
            throw this.Exhausted(options, last);
        }

        await using (stream.ConfigureAwait(false))
        {
            await foreach (ChatResponseUpdate update in stream.ReadAllAsync().ConfigureAwait(false))
            {
                yield return update;
            }
        }
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is null && serviceType.IsInstanceOfType(this))
        {
            return this;
        }

        return this.Client(0).GetService(serviceType, serviceKey);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (IChatClient client in this.clients.Values)
        {
            client.Dispose();
        }

        this.clients.Clear();
    }

    private IChatClient Client(int index) => this.clients.GetOrAdd(index, i => this.clientForKey(this.pool.GetKey(i)));

    private ProviderException Exhausted(ChatOptions? options, ProviderException? last)
    {
        (ProviderFailureKind kind, TimeSpan wait) = this.pool.Exhaustion();
        if (last is not null && last.Kind == kind && this.pool.Count == 1)
        {
            // One key: the caller sees the provider's own failure, with the wait until the key is back.
            return ProviderErrors.Create(kind, this.providerName, last.ModelId ?? options?.ModelId, last.StatusCode, last.ErrorCode, last.ProviderMessage, wait, last);
        }

        string detail = $"all {this.pool.Count} API key(s) are resting after failures; the next is back in {wait.TotalSeconds:0.###} s" +
            (last is null ? string.Empty : $" (last failure: {last.ProviderMessage})");
        return ProviderErrors.Create(kind, this.providerName, options?.ModelId, last?.StatusCode, last?.ErrorCode, detail, wait, last);
    }
}
