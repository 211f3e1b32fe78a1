using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>
/// Makes a conversation fit: given the messages that overflowed the context window and the error, returns shorter
/// messages (for example older turns replaced by a summary). The turn supplies it; it may call a model itself.
/// </summary>
public delegate Task<IReadOnlyList<ChatMessage>> ChatHistoryCompactor(IReadOnlyList<ChatMessage> messages, ContextWindowExceededException error, CancellationToken cancellationToken);

/// <summary>
/// On <see cref="ContextWindowExceededException"/> calls the <see cref="ChatHistoryCompactor"/> and retries once with
/// what it returns. If the compacted call overflows too, a <see cref="ContextWindowExceededException"/> saying so is
/// thrown (the original failure inside). A streamed call is compacted only until its first update has been read.
/// </summary>
public sealed class ContextCompactingChatClient : DelegatingChatClient
{
    private readonly ChatHistoryCompactor compactor;

    /// <summary>Creates the client.</summary>
    public ContextCompactingChatClient(IChatClient innerClient, ChatHistoryCompactor compactor)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(compactor);
        this.compactor = compactor;
    }

    /// <inheritdoc/>
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        ContextWindowExceededException overflow;
        try
        {
            return await base.GetResponseAsync(list, options, cancellationToken).ConfigureAwait(false);
        }
        catch (ContextWindowExceededException ex)
        {
            overflow = ex;
        }

        IReadOnlyList<ChatMessage> compacted = await this.CompactAsync(list, overflow, cancellationToken).ConfigureAwait(false);
        try
        {
            return await base.GetResponseAsync(compacted, options, cancellationToken).ConfigureAwait(false);
        }
        catch (ContextWindowExceededException again)
        {
            throw StillTooLong(list.Count, compacted.Count, again);
        }
    }

    /// <inheritdoc/>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        PrimedStream stream;
        try
        {
            stream = await PrimedStream.StartAsync(base.GetStreamingResponseAsync(list, options, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (ContextWindowExceededException overflow)
        {
            IReadOnlyList<ChatMessage> compacted = await this.CompactAsync(list, overflow, cancellationToken).ConfigureAwait(false);
            try
            {
                stream = await PrimedStream.StartAsync(base.GetStreamingResponseAsync(compacted, options, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (ContextWindowExceededException again)
            {
                throw StillTooLong(list.Count, compacted.Count, again);
            }
        }

        await using (stream.ConfigureAwait(false))
        {
            await foreach (ChatResponseUpdate update in stream.ReadAllAsync().ConfigureAwait(false))
            {
                yield return update;
            }
        }
    }

    private static ContextWindowExceededException StillTooLong(int before, int after, ContextWindowExceededException again) =>
        new($"The conversation still exceeds the model's context window after compaction ({before} messages compacted to {after}); it was retried once. {again.Message}", again)
        {
            StatusCode = again.StatusCode,
            ErrorCode = again.ErrorCode,
            ProviderName = again.ProviderName,
            ModelId = again.ModelId,
            ProviderMessage = again.ProviderMessage,
        };

    private async Task<IReadOnlyList<ChatMessage>> CompactAsync(IReadOnlyList<ChatMessage> messages, ContextWindowExceededException overflow, CancellationToken cancellationToken) =>
        await this.compactor(messages, overflow, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The ChatHistoryCompactor returned null; return the compacted messages.");
}
