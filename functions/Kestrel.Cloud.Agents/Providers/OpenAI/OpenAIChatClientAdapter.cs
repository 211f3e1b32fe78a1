using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatFinishReason = Microsoft.Extensions.AI.ChatFinishReason;
using AIChatResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat;
using OpenAIChatMessage = OpenAI.Chat.ChatMessage;
using OpenAIChatFinishReason = OpenAI.Chat.ChatFinishReason;
using OpenAIChatResponseFormat = OpenAI.Chat.ChatResponseFormat;

namespace Kestrel.Cloud.Agents.Providers.OpenAI;

/// <summary>
/// An <see cref="IChatClient"/> over the OpenAI SDK's <see cref="ChatClient"/> (Chat Completions), for OpenAI, Azure
/// OpenAI's v1 endpoint and any OpenAI-compatible server. Maps text, tool calls (<see cref="FunctionCallContent"/>),
/// tool results (<see cref="FunctionResultContent"/>), options and usage both ways; the model comes from
/// <see cref="ChatOptions.ModelId"/> or the default. SDK failures are rethrown as <see cref="ProviderException"/>.
/// </summary>
public sealed class OpenAIChatClientAdapter : IChatClient
{
    private readonly OpenAIClientOptions clientOptions;
    private readonly AuthenticationPolicy authentication;
    private readonly string? defaultModelId;
    private readonly string providerName;
    private readonly TimeProvider timeProvider;
    private readonly ConcurrentDictionary<string, ChatClient> clients = new(StringComparer.Ordinal);
    private readonly ChatClientMetadata metadata;

    /// <summary>Creates the adapter.</summary>
    /// <param name="clientOptions">The SDK options: <see cref="OpenAIClientOptions.Endpoint"/> for Azure or a compatible server. Its retry policy should be off (the resilience layer retries).</param>
    /// <param name="authentication">How requests are authenticated: see <see cref="OpenAIAuthentication"/>.</param>
    /// <param name="defaultModelId">The model (Azure: the deployment) when <see cref="ChatOptions.ModelId"/> is not set.</param>
    /// <param name="providerName">The configured provider name, used in errors and metadata.</param>
    /// <param name="timeProvider">The clock that dates Retry-After headers; the default is the system clock.</param>
    public OpenAIChatClientAdapter(
        OpenAIClientOptions clientOptions,
        AuthenticationPolicy authentication,
        string? defaultModelId,
        string providerName = "openai",
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(clientOptions);
        ArgumentNullException.ThrowIfNull(authentication);
        this.clientOptions = clientOptions;
        this.authentication = authentication;
        this.defaultModelId = defaultModelId;
        this.providerName = providerName;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.metadata = new ChatClientMetadata(providerName, clientOptions.Endpoint ?? new Uri("https://api.openai.com/v1"), defaultModelId);
    }

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        string model = this.ResolveModel(options);
        List<OpenAIChatMessage> request = ToOpenAIMessages(messages, options);
        ChatCompletionOptions completionOptions = ToCompletionOptions(options);
        ChatCompletion completion;
        try
        {
            completion = (await this.GetClient(model).CompleteChatAsync(request, completionOptions, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (Exception ex) when (this.Translate(ex, model, cancellationToken) is { } translated)
        {
            throw translated;
        }

        var message = new AIChatMessage(ChatRole.Assistant, new List<AIContent>()) { MessageId = completion.Id, RawRepresentation = completion };
        foreach (ChatMessageContentPart part in completion.Content)
        {
            if (part.Kind == ChatMessageContentPartKind.Text && !string.IsNullOrEmpty(part.Text))
            {
                message.Contents.Add(new TextContent(part.Text));
            }
        }

        if (!string.IsNullOrEmpty(completion.Refusal))
        {
            message.Contents.Add(new TextContent(completion.Refusal));
        }

        foreach (ChatToolCall call in completion.ToolCalls)
        {
            message.Contents.Add(ChatMappingHelpers.ParseFunctionCall(call.Id, call.FunctionName, call.FunctionArguments?.ToString()));
        }

        return new ChatResponse(message)
        {
            ResponseId = completion.Id,
            ModelId = completion.Model ?? model,
            CreatedAt = completion.CreatedAt,
            FinishReason = ToFinishReason(completion.FinishReason),
            Usage = ToUsage(completion.Usage),
            RawRepresentation = completion,
        };
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<AIChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        string model = this.ResolveModel(options);
        List<OpenAIChatMessage> request = ToOpenAIMessages(messages, options);
        ChatCompletionOptions completionOptions = ToCompletionOptions(options);

        var toolCalls = new SortedDictionary<int, (string? Id, string? Name, StringBuilder Arguments)>();
        string? responseId = null;
        string? modelId = null;
        DateTimeOffset? createdAt = null;
        AIChatFinishReason? finishReason = null;
        UsageDetails? usage = null;

        IAsyncEnumerator<StreamingChatCompletionUpdate> enumerator =
            this.GetClient(model).CompleteChatStreamingAsync(request, completionOptions, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                StreamingChatCompletionUpdate update;
                try
                {
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    update = enumerator.Current;
                }
                catch (Exception ex) when (this.Translate(ex, model, cancellationToken) is { } translated)
                {
                    throw translated;
                }

                responseId ??= update.CompletionId;
                modelId ??= update.Model;
                createdAt ??= update.CreatedAt;
                if (update.FinishReason is { } reason)
                {
                    finishReason = ToFinishReason(reason);
                }

                if (update.Usage is { } u)
                {
                    usage = ToUsage(u);
                }

                foreach (StreamingChatToolCallUpdate call in update.ToolCallUpdates)
                {
                    if (!toolCalls.TryGetValue(call.Index, out var entry))
                    {
                        entry = (null, null, new StringBuilder());
                    }

                    entry.Id ??= call.ToolCallId;
                    entry.Name ??= call.FunctionName;
                    if (call.FunctionArgumentsUpdate is { } argumentsUpdate && !argumentsUpdate.ToMemory().IsEmpty)
                    {
                        entry.Arguments.Append(argumentsUpdate.ToString());
                    }

                    toolCalls[call.Index] = entry;
                }

                var contents = new List<AIContent>();
                foreach (ChatMessageContentPart part in update.ContentUpdate)
                {
                    if (part.Kind == ChatMessageContentPartKind.Text && !string.IsNullOrEmpty(part.Text))
                    {
                        contents.Add(new TextContent(part.Text));
                    }
                }

                if (!string.IsNullOrEmpty(update.RefusalUpdate))
                {
                    contents.Add(new TextContent(update.RefusalUpdate));
                }

                if (contents.Count > 0)
                {
                    yield return new ChatResponseUpdate(ChatRole.Assistant, contents)
                    {
                        ResponseId = responseId,
                        MessageId = responseId,
                        ModelId = modelId ?? model,
                        CreatedAt = createdAt,
                        RawRepresentation = update,
                    };
                }
            }
        }
        finally
        {
            await enumerator.DisposeAsync().ConfigureAwait(false);
        }

        // Tool calls arrive in fragments; they are emitted whole, once the stream has ended.
        var final = new List<AIContent>();
        foreach ((string? id, string? name, StringBuilder arguments) in toolCalls.Values)
        {
            final.Add(ChatMappingHelpers.ParseFunctionCall(id ?? string.Empty, name ?? string.Empty, arguments.ToString()));
        }

        if (usage is not null)
        {
            final.Add(new UsageContent(usage));
        }

        yield return new ChatResponseUpdate(ChatRole.Assistant, final)
        {
            ResponseId = responseId,
            MessageId = responseId,
            ModelId = modelId ?? model,
            CreatedAt = createdAt,
            FinishReason = finishReason ?? (toolCalls.Count > 0 ? AIChatFinishReason.ToolCalls : AIChatFinishReason.Stop),
        };
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
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

    internal static List<OpenAIChatMessage> ToOpenAIMessages(IEnumerable<AIChatMessage> messages, ChatOptions? options)
    {
        var result = new List<OpenAIChatMessage>();
        if (!string.IsNullOrWhiteSpace(options?.Instructions))
        {
            result.Add(new SystemChatMessage(options.Instructions));
        }

        foreach (AIChatMessage message in messages)
        {
            if (message.Role == ChatRole.System)
            {
                result.Add(new SystemChatMessage(message.Text));
                continue;
            }

            // Tool results become tool messages wherever they appear (MEAI puts them in ChatRole.Tool messages).
            foreach (FunctionResultContent toolResult in message.Contents.OfType<FunctionResultContent>())
            {
                result.Add(new ToolChatMessage(toolResult.CallId, ChatMappingHelpers.SerializeResult(toolResult)));
            }

            if (message.Role == ChatRole.Tool)
            {
                continue;
            }

            var parts = new List<ChatMessageContentPart>();
            foreach (AIContent content in message.Contents)
            {
                switch (content)
                {
                    case TextContent text when !string.IsNullOrEmpty(text.Text):
                        parts.Add(ChatMessageContentPart.CreateTextPart(text.Text));
                        break;
                    case DataContent data when data.HasTopLevelMediaType("image") && message.Role == ChatRole.User:
                        parts.Add(ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(data.Data), data.MediaType));
                        break;
                    case UriContent uri when uri.HasTopLevelMediaType("image") && message.Role == ChatRole.User:
                        parts.Add(ChatMessageContentPart.CreateImagePart(uri.Uri));
                        break;
                }
            }

            if (message.Role == ChatRole.Assistant)
            {
                List<ChatToolCall> calls = message.Contents.OfType<FunctionCallContent>()
                    .Select(c => ChatToolCall.CreateFunctionToolCall(c.CallId, c.Name, BinaryData.FromString(ChatMappingHelpers.SerializeArguments(c.Arguments))))
                    .ToList();
                if (calls.Count > 0)
                {
                    var assistant = new AssistantChatMessage(calls);
                    foreach (ChatMessageContentPart part in parts)
                    {
                        assistant.Content.Add(part);
                    }

                    result.Add(assistant);
                }
                else if (parts.Count > 0)
                {
                    result.Add(new AssistantChatMessage(parts));
                }

                continue;
            }

            if (parts.Count > 0)
            {
                result.Add(new UserChatMessage(parts));
            }
        }

        return result;
    }

    internal static ChatCompletionOptions ToCompletionOptions(ChatOptions? options)
    {
        var result = new ChatCompletionOptions();
        if (options is null)
        {
            return result;
        }

        result.Temperature = options.Temperature;
        result.MaxOutputTokenCount = options.MaxOutputTokens;
        result.TopP = options.TopP;
        result.FrequencyPenalty = options.FrequencyPenalty;
        result.PresencePenalty = options.PresencePenalty;
        foreach (string stop in options.StopSequences ?? Array.Empty<string>())
        {
            result.StopSequences.Add(stop);
        }

        foreach (AIFunctionDeclaration function in (options.Tools ?? Array.Empty<AITool>()).OfType<AIFunctionDeclaration>())
        {
            result.Tools.Add(ChatTool.CreateFunctionTool(function.Name, function.Description, BinaryData.FromString(function.JsonSchema.GetRawText())));
        }

        if (result.Tools.Count > 0)
        {
            result.AllowParallelToolCalls = options.AllowMultipleToolCalls;
            result.ToolChoice = options.ToolMode switch
            {
                NoneChatToolMode => ChatToolChoice.CreateNoneChoice(),
                RequiredChatToolMode { RequiredFunctionName: { } name } => ChatToolChoice.CreateFunctionChoice(name),
                RequiredChatToolMode => ChatToolChoice.CreateRequiredChoice(),
                AutoChatToolMode => ChatToolChoice.CreateAutoChoice(),
                _ => null,
            };
        }

        result.ResponseFormat = options.ResponseFormat switch
        {
            ChatResponseFormatJson { Schema: { } schema } json => OpenAIChatResponseFormat.CreateJsonSchemaFormat(
                json.SchemaName ?? "response", BinaryData.FromString(schema.GetRawText()), json.SchemaDescription),
            ChatResponseFormatJson => OpenAIChatResponseFormat.CreateJsonObjectFormat(),
            ChatResponseFormatText => OpenAIChatResponseFormat.CreateTextFormat(),
            _ => null,
        };

        return result;
    }

    internal static UsageDetails? ToUsage(ChatTokenUsage? usage)
    {
        if (usage is null)
        {
            return null;
        }

        return new UsageDetails
        {
            InputTokenCount = usage.InputTokenCount,
            OutputTokenCount = usage.OutputTokenCount,
            TotalTokenCount = usage.TotalTokenCount,
            CachedInputTokenCount = usage.InputTokenDetails?.CachedTokenCount,
            ReasoningTokenCount = usage.OutputTokenDetails?.ReasoningTokenCount,
        };
    }

    private static AIChatFinishReason? ToFinishReason(OpenAIChatFinishReason reason) => reason switch
    {
        OpenAIChatFinishReason.Stop => AIChatFinishReason.Stop,
        OpenAIChatFinishReason.Length => AIChatFinishReason.Length,
        OpenAIChatFinishReason.ContentFilter => AIChatFinishReason.ContentFilter,
        OpenAIChatFinishReason.ToolCalls or OpenAIChatFinishReason.FunctionCall => AIChatFinishReason.ToolCalls,
        _ => null,
    };

    private string ResolveModel(ChatOptions? options) =>
        options?.ModelId ?? this.defaultModelId ?? throw new InvalidOperationException(
            $"No model was given for provider '{this.providerName}': set ChatOptions.ModelId or the provider's DefaultModel.");

    // The AuthenticationPolicy constructor is marked experimental (OPENAI001); it is the SDK's way to send Azure's
    // api-key header or an Entra ID token, which an ApiKeyCredential cannot.
#pragma warning disable OPENAI001
    private ChatClient GetClient(string model) =>
        this.clients.GetOrAdd(model, m => new ChatClient(m, this.authentication, this.clientOptions));
#pragma warning restore OPENAI001

    private ProviderException? Translate(Exception exception, string model, CancellationToken cancellationToken)
    {
        if (exception is ClientResultException result && result.Status != 0)
        {
            PipelineResponse? response = result.GetRawResponse();
            string? body = null;
            TimeSpan? retryAfter = null;
            if (response is not null)
            {
                try
                {
                    body = response.Content.ToString();
                }
                catch (InvalidOperationException)
                {
                    // The body was not buffered (a streaming call): classify on the status alone.
                }

                response.Headers.TryGetValue("retry-after-ms", out string? retryAfterMs);
                response.Headers.TryGetValue("Retry-After", out string? retryAfterHeader);
                retryAfter = ProviderErrors.ParseRetryAfter(retryAfterMs, retryAfterHeader, this.timeProvider.GetUtcNow());
            }

            (string? type, string? code, string? message) = ProviderErrors.ParseErrorBody(body);
            ProviderFailureKind kind = ProviderErrors.Classify(result.Status, type, code, message);
            return ProviderErrors.Create(kind, this.providerName, model, result.Status, code ?? type, message ?? result.Message, retryAfter, exception);
        }

        Exception transport = exception is ClientResultException { InnerException: { } inner } ? inner : exception;
        return ProviderErrors.FromTransportFailure(transport, this.providerName, model, cancellationToken);
    }
}
