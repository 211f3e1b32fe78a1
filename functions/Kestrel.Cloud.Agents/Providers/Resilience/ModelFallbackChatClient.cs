using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>
/// Tries an ordered list of fallback models when the requested one fails for good: the model does not exist
/// (<see cref="ProviderFailureKind.ModelNotFound"/>) or retries were exhausted (a retryable kind reaching this layer,
/// which sits outside <see cref="RetryingChatClient"/>). Each fallback gets the same messages and options with
/// <see cref="ChatOptions.ModelId"/> replaced; the response's <see cref="ChatResponse.ModelId"/> tells which answered.
/// A streamed call falls back only until its first update has been read.
/// </summary>
public sealed class ModelFallbackChatClient : DelegatingChatClient
{
    private readonly IReadOnlyList<string> fallbackModels;
    private readonly string? primaryModel;

    /// <summary>Creates the client.</summary>
    /// <param name="innerClient">The client to call (usually retrying, key-rotating).</param>
    /// <param name="fallbackModels">The models to try in order after the primary one.</param>
    /// <param name="primaryModel">The model when <see cref="ChatOptions.ModelId"/> is not set; null leaves it to the inner client's default.</param>
    public ModelFallbackChatClient(IChatClient innerClient, IEnumerable<string> fallbackModels, string? primaryModel = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(fallbackModels);
        this.fallbackModels = fallbackModels.Where(m => !string.IsNullOrWhiteSpace(m)).Distinct(StringComparer.Ordinal).ToList();
        this.primaryModel = primaryModel;
    }

    /// <summary>True when a failure should move on to the next model.</summary>
    public static bool ShouldFallBack(ProviderException failure) =>
        failure.Kind == ProviderFailureKind.ModelNotFound || failure.IsRetryable;

    /// <inheritdoc/>
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        IReadOnlyList<string?> models = this.Models(options);
        for (int i = 0; ; i++)
        {
            try
            {
                return await base.GetResponseAsync(list, WithModel(options, models[i]), cancellationToken).ConfigureAwait(false);
            }
            catch (ProviderException ex) when (i < models.Count - 1 && ShouldFallBack(ex))
            {
                // Next model.
            }
        }
    }

    /// <inheritdoc/>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        IReadOnlyList<string?> models = this.Models(options);
        PrimedStream? stream = null;
        for (int i = 0; stream is null; i++)
        {
            try
            {
                stream = await PrimedStream.StartAsync(base.GetStreamingResponseAsync(list, WithModel(options, models[i]), cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (ProviderException ex) when (i < models.Count - 1 && ShouldFallBack(ex))
            {
                // Next model.
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

    private static ChatOptions? WithModel(ChatOptions? options, string? model)
    {
        if (model is null || options?.ModelId == model)
        {
            return options;
        }

        ChatOptions copy = options?.Clone() ?? new ChatOptions();
        copy.ModelId = model;
        return copy;
    }

    private IReadOnlyList<string?> Models(ChatOptions? options)
    {
        string? first = options?.ModelId ?? this.primaryModel;
        var models = new List<string?> { first };
        models.AddRange(this.fallbackModels.Where(m => m != first));
        return models;
    }
}
