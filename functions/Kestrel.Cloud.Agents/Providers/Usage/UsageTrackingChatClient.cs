using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers.Usage;

/// <summary>
/// Records the usage of every call into a <see cref="UsageAccumulator"/> (the response's <see cref="ChatResponse.Usage"/>,
/// or a stream's <see cref="UsageContent"/>) and puts the call's priced usage in the response's additional properties
/// under <see cref="CallUsageKey"/>.
/// </summary>
public sealed class UsageTrackingChatClient : DelegatingChatClient
{
    /// <summary>The additional-property key holding the call's <see cref="ProviderUsage"/>.</summary>
    public const string CallUsageKey = "kestrel.usage";

    private readonly UsageAccumulator accumulator;

    /// <summary>Creates the client.</summary>
    public UsageTrackingChatClient(IChatClient innerClient, UsageAccumulator accumulator)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(accumulator);
        this.accumulator = accumulator;
    }

    /// <inheritdoc/>
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ChatResponse response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        if (response.Usage is { } usage)
        {
            ProviderUsage call = this.accumulator.Record(response.ModelId ?? options?.ModelId, usage);
            (response.AdditionalProperties ??= new AdditionalPropertiesDictionary())[CallUsageKey] = call;
        }

        return response;
    }

    /// <inheritdoc/>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? modelId = options?.ModelId;
        await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            modelId = update.ModelId ?? modelId;
            foreach (UsageContent usage in update.Contents.OfType<UsageContent>())
            {
                ProviderUsage call = this.accumulator.Record(modelId, usage.Details);
                (update.AdditionalProperties ??= new AdditionalPropertiesDictionary())[CallUsageKey] = call;
            }

            yield return update;
        }
    }
}
