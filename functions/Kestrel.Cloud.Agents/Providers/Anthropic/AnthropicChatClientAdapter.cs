using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using Microsoft.Extensions.AI;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AnthropicMessage = Anthropic.Models.Messages.Message;

namespace Kestrel.Cloud.Agents.Providers.Anthropic;

/// <summary>
/// An <see cref="IChatClient"/> over Anthropic's official SDK (Messages API): system prompt, text, <c>tool_use</c> /
/// <c>tool_result</c> blocks, streaming, and usage including cache reads. The model comes from
/// <see cref="ChatOptions.ModelId"/> or the default. SDK failures are rethrown as <see cref="ProviderException"/>.
/// </summary>
public sealed class AnthropicChatClientAdapter : IChatClient
{
    private readonly IAnthropicClient client;
    private readonly string? defaultModelId;
    private readonly int defaultMaxOutputTokens;
    private readonly string providerName;
    private readonly ChatClientMetadata metadata;

    /// <summary>Creates the adapter.</summary>
    /// <param name="client">The SDK client. Create it with <see cref="CreateClient"/> so Retry-After headers are seen and the SDK does not retry by itself.</param>
    /// <param name="defaultModelId">The model when <see cref="ChatOptions.ModelId"/> is not set.</param>
    /// <param name="defaultMaxOutputTokens">Anthropic requires <c>max_tokens</c>: this is sent when <see cref="ChatOptions.MaxOutputTokens"/> is not set.</param>
    /// <param name="providerName">The configured provider name, used in errors and metadata.</param>
    public AnthropicChatClientAdapter(IAnthropicClient client, string? defaultModelId, int defaultMaxOutputTokens = 4096, string providerName = "anthropic")
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfLessThan(defaultMaxOutputTokens, 1);
        this.client = client;
        this.defaultModelId = defaultModelId;
        this.defaultMaxOutputTokens = defaultMaxOutputTokens;
        this.providerName = providerName;
        this.metadata = new ChatClientMetadata(providerName, null, defaultModelId);
    }

    /// <summary>
    /// Creates an SDK client for one API key: the SDK's own retries off (the resilience layer retries), a per-attempt
    /// timeout, and a handler that records Retry-After headers for the error translation.
    /// </summary>
    public static AnthropicClient CreateClient(string apiKey, Uri? baseUrl, TimeSpan timeout, TimeProvider? timeProvider = null)
    {
        var clock = timeProvider ?? TimeProvider.System;
        return new AnthropicClient(new ClientOptions
        {
            ApiKey = apiKey,
            BaseUrl = (baseUrl ?? new Uri("https://api.anthropic.com")).ToString().TrimEnd('/'),
            MaxRetries = 0,
            Timeout = timeout,
            Handlers = new[] { AnthropicRetryAfter.CreateHandler(clock) },
        });
    }

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageCreateParams request = this.ToRequest(messages, options, out string model);
        AnthropicMessage response;
        using (AnthropicRetryAfter.Scope scope = AnthropicRetryAfter.Begin())
        {
            try
            {
                response = await this.client.Messages.Create(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (this.Translate(ex, model, scope.RetryAfter, cancellationToken) is { } translated)
            {
                throw translated;
            }
        }

        var message = new AIChatMessage(ChatRole.Assistant, new List<AIContent>()) { MessageId = response.ID, RawRepresentation = response };
        foreach (ContentBlock block in response.Content)
        {
            if (block.TryPickText(out TextBlock? text) && !string.IsNullOrEmpty(text.Text))
            {
                message.Contents.Add(new TextContent(text.Text));
            }
            else if (block.TryPickToolUse(out ToolUseBlock? toolUse))
            {
                message.Contents.Add(ToFunctionCall(toolUse.ID, toolUse.Name, toolUse.Input));
            }
            else if (block.TryPickThinking(out ThinkingBlock? thinking))
            {
                message.Contents.Add(new TextReasoningContent(thinking.Thinking) { ProtectedData = thinking.Signature });
            }
        }

        return new ChatResponse(message)
        {
            ResponseId = response.ID,
            ModelId = ModelText(response.Model) ?? model,
            FinishReason = ToFinishReason(response.StopReason),
            Usage = ToUsage(response.Usage.InputTokens, response.Usage.OutputTokens, response.Usage.CacheReadInputTokens, response.Usage.CacheCreationInputTokens),
            RawRepresentation = response,
        };
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<AIChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageCreateParams request = this.ToRequest(messages, options, out string model);

        string? responseId = null;
        string? modelId = null;
        long inputTokens = 0;
        long outputTokens = 0;
        long? cacheRead = null;
        long? cacheCreation = null;
        ChatFinishReason? finishReason = null;
        var toolBlocks = new Dictionary<long, (string Id, string Name, StringBuilder Json)>();
        var completedCalls = new List<AIContent>();

        using AnthropicRetryAfter.Scope scope = AnthropicRetryAfter.Begin();
        IAsyncEnumerator<RawMessageStreamEvent> events = this.client.Messages.CreateStreaming(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                RawMessageStreamEvent streamEvent;
                try
                {
                    if (!await events.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    streamEvent = events.Current;
                }
                catch (Exception ex) when (this.Translate(ex, model, scope.RetryAfter, cancellationToken) is { } translated)
                {
                    throw translated;
                }

                string? text = null;
                if (streamEvent.TryPickStart(out RawMessageStartEvent? start))
                {
                    responseId = start.Message.ID;
                    modelId = ModelText(start.Message.Model);
                    inputTokens = start.Message.Usage.InputTokens;
                    outputTokens = start.Message.Usage.OutputTokens;
                    cacheRead = start.Message.Usage.CacheReadInputTokens;
                    cacheCreation = start.Message.Usage.CacheCreationInputTokens;
                }
                else if (streamEvent.TryPickContentBlockStart(out RawContentBlockStartEvent? blockStart))
                {
                    if (blockStart.ContentBlock.TryPickToolUse(out ToolUseBlock? toolUse))
                    {
                        toolBlocks[blockStart.Index] = (toolUse.ID, toolUse.Name, new StringBuilder());
                    }
                    else if (blockStart.ContentBlock.TryPickText(out TextBlock? initial))
                    {
                        text = initial.Text;
                    }
                }
                else if (streamEvent.TryPickContentBlockDelta(out RawContentBlockDeltaEvent? delta))
                {
                    if (delta.Delta.TryPickText(out TextDelta? textDelta))
                    {
                        text = textDelta.Text;
                    }
                    else if (delta.Delta.TryPickInputJson(out InputJsonDelta? json) && toolBlocks.TryGetValue(delta.Index, out var block))
                    {
                        block.Json.Append(json.PartialJson);
                    }
                }
                else if (streamEvent.TryPickContentBlockStop(out RawContentBlockStopEvent? blockStop))
                {
                    if (toolBlocks.Remove(blockStop.Index, out var block))
                    {
                        completedCalls.Add(ChatMappingHelpers.ParseFunctionCall(block.Id, block.Name, block.Json.ToString()));
                    }
                }
                else if (streamEvent.TryPickDelta(out RawMessageDeltaEvent? messageDelta))
                {
                    finishReason = ToFinishReason(messageDelta.Delta.StopReason) ?? finishReason;
                    MessageDeltaUsage usage = messageDelta.Usage;
                    outputTokens = usage.OutputTokens;
                    inputTokens = usage.InputTokens ?? inputTokens;
                    cacheRead = usage.CacheReadInputTokens ?? cacheRead;
                    cacheCreation = usage.CacheCreationInputTokens ?? cacheCreation;
                }

                if (!string.IsNullOrEmpty(text))
                {
                    yield return new ChatResponseUpdate(ChatRole.Assistant, text)
                    {
                        ResponseId = responseId,
                        MessageId = responseId,
                        ModelId = modelId ?? model,
                        RawRepresentation = streamEvent,
                    };
                }
            }
        }
        finally
        {
            await events.DisposeAsync().ConfigureAwait(false);
        }

        completedCalls.Add(new UsageContent(ToUsage(inputTokens, outputTokens, cacheRead, cacheCreation)));
        yield return new ChatResponseUpdate(ChatRole.Assistant, completedCalls)
        {
            ResponseId = responseId,
            MessageId = responseId,
            ModelId = modelId ?? model,
            FinishReason = finishReason ?? ChatFinishReason.Stop,
        };
    }

    /// <inheritdoc/>
    public object? GetService(System.Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(ChatClientMetadata))
        {
            return this.metadata;
        }

        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    internal static UsageDetails ToUsage(long inputTokens, long outputTokens, long? cacheRead, long? cacheCreation)
    {
        // Anthropic's input_tokens excludes cache reads and writes; UsageDetails counts all input, cached included.
        long input = inputTokens + (cacheRead ?? 0) + (cacheCreation ?? 0);
        var usage = new UsageDetails
        {
            InputTokenCount = input,
            OutputTokenCount = outputTokens,
            TotalTokenCount = input + outputTokens,
            CachedInputTokenCount = cacheRead,
        };
        if (cacheCreation is > 0)
        {
            usage.AdditionalCounts = new AdditionalPropertiesDictionary<long> { ["CacheCreationInputTokens"] = cacheCreation.Value };
        }

        return usage;
    }

    private static FunctionCallContent ToFunctionCall(string id, string name, IReadOnlyDictionary<string, JsonElement>? input) =>
        new(id, name, input?.ToDictionary(p => p.Key, p => (object?)p.Value) ?? new Dictionary<string, object?>());

    private static string? ModelText(ApiEnum<string, Model>? model) => model?.Raw();

    private static ChatFinishReason? ToFinishReason(ApiEnum<string, StopReason>? reason) => reason?.Raw() switch
    {
        null => null,
        "end_turn" or "stop_sequence" => ChatFinishReason.Stop,
        "max_tokens" or "model_context_window_exceeded" => ChatFinishReason.Length,
        "tool_use" => ChatFinishReason.ToolCalls,
        "refusal" => ChatFinishReason.ContentFilter,
        { } other => new ChatFinishReason(other),
    };

    private MessageCreateParams ToRequest(IEnumerable<AIChatMessage> messages, ChatOptions? options, out string model)
    {
        model = options?.ModelId ?? this.defaultModelId ?? throw new InvalidOperationException(
            $"No model was given for provider '{this.providerName}': set ChatOptions.ModelId or the provider's DefaultModel.");
        List<AIChatMessage> list = messages.ToList();

        var request = new MessageCreateParams
        {
            Model = model,
            MaxTokens = options?.MaxOutputTokens ?? this.defaultMaxOutputTokens,
            Messages = ToMessages(list),
        };

        if (ChatMappingHelpers.SystemPrompt(list, options) is { } system)
        {
            request = request with { System = system };
        }

        if (options is null)
        {
            return request;
        }

        // The Messages API of SDK 13.x has no temperature, top_p or top_k parameters: those options are not sent.
        if (options.StopSequences is { Count: > 0 } stops)
        {
            request = request with { StopSequences = stops.ToList() };
        }

        var tools = new List<ToolUnion>();
        foreach (AIFunctionDeclaration function in (options.Tools ?? Array.Empty<AITool>()).OfType<AIFunctionDeclaration>())
        {
            Dictionary<string, JsonElement> schema = function.JsonSchema.ValueKind == JsonValueKind.Object
                ? function.JsonSchema.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone())
                : new Dictionary<string, JsonElement>();
            schema.TryAdd("type", JsonSerializer.SerializeToElement("object"));
            var tool = new Tool
            {
                Name = function.Name,
                InputSchema = InputSchema.FromRawUnchecked(schema),
            };
            if (!string.IsNullOrEmpty(function.Description))
            {
                tool = tool with { Description = function.Description };
            }

            tools.Add(tool);
        }

        if (tools.Count > 0)
        {
            request = request with { Tools = tools };
            bool? disableParallel = options.AllowMultipleToolCalls is false ? true : null;
            ToolChoice? choice = options.ToolMode switch
            {
                NoneChatToolMode => new ToolChoiceNone(),
                RequiredChatToolMode { RequiredFunctionName: { } name } => new ToolChoiceTool(name) { DisableParallelToolUse = disableParallel },
                RequiredChatToolMode => new ToolChoiceAny { DisableParallelToolUse = disableParallel },
                _ when disableParallel is true => new ToolChoiceAuto { DisableParallelToolUse = true },
                _ => null,
            };
            if (choice is not null)
            {
                request = request with { ToolChoice = choice };
            }
        }

        return request;
    }

    private static List<MessageParam> ToMessages(List<AIChatMessage> messages)
    {
        // Anthropic has two roles; tool results travel in user turns. Consecutive turns of one role are merged.
        var result = new List<MessageParam>();
        bool? lastIsUser = null;
        List<ContentBlockParam>? blocks = null;

        void Flush()
        {
            if (blocks is { Count: > 0 })
            {
                result.Add(lastIsUser == true
                    ? new UserMessageParam(new MessageContentParam(blocks, null))
                    : new AssistantMessageParam(new MessageContentParam(blocks, null)));
            }
        }

        foreach (AIChatMessage message in messages)
        {
            if (message.Role == ChatRole.System)
            {
                continue;
            }

            bool isUser = message.Role != ChatRole.Assistant;
            if (lastIsUser != isUser)
            {
                Flush();
                blocks = new List<ContentBlockParam>();
                lastIsUser = isUser;
            }

            foreach (AIContent content in message.Contents)
            {
                switch (content)
                {
                    case TextContent text when !string.IsNullOrEmpty(text.Text):
                        blocks!.Add(new TextBlockParam(text.Text));
                        break;
                    case FunctionCallContent call when !isUser:
                        blocks!.Add(new ToolUseBlockParam
                        {
                            ID = call.CallId,
                            Name = call.Name,
                            Input = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(ChatMappingHelpers.SerializeArguments(call.Arguments))!,
                        });
                        break;
                    case FunctionResultContent toolResult:
                        var resultBlock = new ToolResultBlockParam(toolResult.CallId) { Content = ChatMappingHelpers.SerializeResult(toolResult) };
                        if (toolResult.Exception is not null)
                        {
                            resultBlock = resultBlock with { IsError = true };
                        }

                        blocks!.Add(resultBlock);
                        break;
                }
            }
        }

        Flush();
        return result;
    }

    private ProviderException? Translate(Exception exception, string model, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case AnthropicApiException api:
            {
                (string? type, string? code, string? message) = ProviderErrors.ParseErrorBody(api.ResponseBody);
                int status = (int)api.StatusCode;
                ProviderFailureKind kind = ProviderErrors.Classify(status, type, code, message);
                return ProviderErrors.Create(kind, this.providerName, model, status, type ?? code, message ?? api.Message, retryAfter, exception);
            }

            case AnthropicServiceException service:
            {
                // An error event inside a stream: no status, only the error type and message.
                (string? type, string? code, string? message) = service.Body.ValueKind == JsonValueKind.Object
                    ? ProviderErrors.ParseErrorBody(service.Body.GetRawText())
                    : (null, null, service.Message);
                ProviderFailureKind kind = ProviderErrors.Classify(null, type, code, message);
                return ProviderErrors.Create(kind, this.providerName, model, null, type, message ?? service.Message, retryAfter, exception);
            }

            case AnthropicIOException io:
                return ProviderErrors.FromTransportFailure(io.InnerException ?? (Exception)io, this.providerName, model, cancellationToken)
                    ?? ProviderErrors.Create(ProviderFailureKind.Transient, this.providerName, model, null, null, io.Message, null, exception);

            default:
                return ProviderErrors.FromTransportFailure(exception, this.providerName, model, cancellationToken);
        }
    }
}
