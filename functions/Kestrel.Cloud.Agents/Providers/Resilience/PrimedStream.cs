using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>
/// A streaming call whose first update has been read. The resilience layers may retry, rotate or fall back only until
/// the first update reaches the caller: they read it inside their handling, then hand the rest through untouched.
/// </summary>
internal sealed class PrimedStream : IAsyncDisposable
{
    private readonly IAsyncEnumerator<ChatResponseUpdate> enumerator;
    private readonly bool hasFirst;
    private readonly IDisposable? resource;

    private PrimedStream(IAsyncEnumerator<ChatResponseUpdate> enumerator, bool hasFirst, IDisposable? resource)
    {
        this.enumerator = enumerator;
        this.hasFirst = hasFirst;
        this.resource = resource;
    }

    /// <summary>Starts the stream and reads its first update; on failure the enumerator is disposed and the exception thrown.</summary>
    public static async Task<PrimedStream> StartAsync(IAsyncEnumerable<ChatResponseUpdate> stream, CancellationToken cancellationToken, IDisposable? resource = null)
    {
        IAsyncEnumerator<ChatResponseUpdate> enumerator = stream.GetAsyncEnumerator(cancellationToken);
        try
        {
            bool hasFirst = await enumerator.MoveNextAsync().ConfigureAwait(false);
            return new PrimedStream(enumerator, hasFirst, resource);
        }
        catch
        {
            await enumerator.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The first update, then the rest.</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> ReadAllAsync()
    {
        if (!this.hasFirst)
        {
            yield break;
        }

        yield return this.enumerator.Current;
        while (await this.enumerator.MoveNextAsync().ConfigureAwait(false))
        {
            yield return this.enumerator.Current;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await this.enumerator.DisposeAsync().ConfigureAwait(false);
        this.resource?.Dispose();
    }
}
