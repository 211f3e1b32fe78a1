using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Providers;

/// <summary>Conversions both adapters share: tool arguments and tool results to and from JSON text.</summary>
internal static class ChatMappingHelpers
{
    /// <summary>A tool call's arguments as a JSON object text ("{}" when there are none).</summary>
    public static string SerializeArguments(IDictionary<string, object?>? arguments) =>
        arguments is null || arguments.Count == 0 ? "{}" : JsonSerializer.Serialize(arguments, AIJsonUtilities.DefaultOptions);

    /// <summary>A tool call from the model: parses the JSON arguments; malformed JSON is kept on <see cref="FunctionCallContent.Exception"/>.</summary>
    public static FunctionCallContent ParseFunctionCall(string callId, string name, string? argumentsJson) =>
        FunctionCallContent.CreateFromParsedArguments(
            string.IsNullOrWhiteSpace(argumentsJson) ? "{}" : argumentsJson,
            callId,
            name,
            static json => JsonSerializer.Deserialize<Dictionary<string, object?>>(json, AIJsonUtilities.DefaultOptions));

    /// <summary>The text sent to the model for a tool result: strings as they are, everything else as JSON.</summary>
    public static string SerializeResult(FunctionResultContent result)
    {
        if (result.Result is null && result.Exception is { } exception)
        {
            return $"Error: {exception.Message}";
        }

        return result.Result switch
        {
            null => string.Empty,
            string text => text,
            JsonElement element => element.ValueKind == JsonValueKind.String ? element.GetString() ?? string.Empty : element.GetRawText(),
            TextContent text => text.Text,
            _ => JsonSerializer.Serialize(result.Result, AIJsonUtilities.DefaultOptions),
        };
    }

    /// <summary>The system prompt: <see cref="ChatOptions.Instructions"/> then every system message, blank-line separated.</summary>
    public static string? SystemPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var parts = new List<string>();
        if (!string.IsNullOrWhiteSpace(options?.Instructions))
        {
            parts.Add(options.Instructions);
        }

        parts.AddRange(messages.Where(m => m.Role == ChatRole.System).Select(m => m.Text).Where(t => !string.IsNullOrEmpty(t)));
        return parts.Count == 0 ? null : string.Join("\n\n", parts);
    }
}
