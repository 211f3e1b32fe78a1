using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>
/// Converts a turn's <see cref="TurnMessage"/>s to and from Microsoft.Extensions.AI <see cref="ChatMessage"/>s: for a
/// model call (tool errors as <see cref="FunctionResultContent"/> with an exception, so providers mark them as errors)
/// and for the session store (<c>AIJsonUtilities.DefaultOptions</c> JSON, errors flagged in additional properties).
/// </summary>
public static class TurnMessages
{
    /// <summary>The additional-property key that marks a stored tool result as an error.</summary>
    public const string IsErrorKey = "kestrel.isError";

    /// <summary><c>AIJsonUtilities.DefaultOptions</c> without indentation.</summary>
    private static readonly JsonSerializerOptions Compact = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    /// <summary>The messages for a model call: the system prompt (plus any summaries of older history), then the conversation.</summary>
    public static IList<ChatMessage> ToChatMessages(string systemPrompt, IEnumerable<TurnMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var system = new StringBuilder(systemPrompt);
        var list = new List<ChatMessage>();
        foreach (TurnMessage m in messages)
        {
            if (m.Role == "system")
            {
                system.Append("\n\n").Append(m.Text);
                continue;
            }

            list.Add(ToChatMessage(m, forModel: true));
        }

        list.Insert(0, new ChatMessage(ChatRole.System, system.ToString()));
        return list;
    }

    /// <summary>The session JSON of <paramref name="messages"/>.</summary>
    public static string ToSessionJson(IEnumerable<TurnMessage> messages) =>
        JsonSerializer.Serialize(messages.Select(m => ToChatMessage(m, forModel: false)).ToList(), Compact);

    /// <summary>Reads session JSON back; null or empty text gives no messages.</summary>
    public static IReadOnlyList<TurnMessage> FromSessionJson(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return Array.Empty<TurnMessage>();
        }

        List<ChatMessage> chat = JsonSerializer.Deserialize<List<ChatMessage>>(json, AIJsonUtilities.DefaultOptions) ?? new List<ChatMessage>();
        return chat.Select(FromChatMessage).Where(m => m is not null).Select(m => m!).ToList();
    }

    /// <summary>A rough token estimate: a quarter of the characters, at least one per message.</summary>
    public static int EstimateTokens(IEnumerable<TurnMessage> messages) =>
        messages.Sum(m => 1 + ((m.Text?.Length ?? 0) + (m.ToolCalls?.Sum(c => c.Name.Length + c.ArgumentsJson.Length) ?? 0)) / 4);

    /// <summary>The UTF-8 size of <paramref name="messages"/> as JSON.</summary>
    public static int SizeBytes(IEnumerable<TurnMessage> messages) => JsonSerializer.SerializeToUtf8Bytes(messages).Length;

    private static ChatMessage ToChatMessage(TurnMessage m, bool forModel)
    {
        switch (m.Role)
        {
            case "system":
                return new ChatMessage(ChatRole.System, m.Text ?? string.Empty);
            case "user":
                return new ChatMessage(ChatRole.User, m.Text ?? string.Empty);
            case "tool":
                var result = forModel && m.IsError
                    ? new FunctionResultContent(m.CallId ?? string.Empty, null) { Exception = new ToolCallFailedException(m.Text ?? string.Empty) }
                    : new FunctionResultContent(m.CallId ?? string.Empty, m.Text ?? string.Empty);
                if (!forModel && m.IsError)
                {
                    result.AdditionalProperties = new AdditionalPropertiesDictionary { [IsErrorKey] = true };
                }

                return new ChatMessage(ChatRole.Tool, new List<AIContent> { result });
            default:
                var contents = new List<AIContent>();
                if (!string.IsNullOrEmpty(m.Text))
                {
                    contents.Add(new TextContent(m.Text));
                }

                foreach (TurnToolCall call in m.ToolCalls ?? Array.Empty<TurnToolCall>())
                {
                    contents.Add(new FunctionCallContent(call.CallId, call.Name, ParseArguments(call.ArgumentsJson)));
                }

                return new ChatMessage(ChatRole.Assistant, contents);
        }
    }

    /// <summary>
    /// A <see cref="ChatMessage"/> as a <see cref="TurnMessage"/>; null for a tool message without a result. Reads both
    /// forms of a tool error: the session's (flagged with <see cref="IsErrorKey"/>) and the model call's (a result with
    /// an exception, whose message is the text).
    /// </summary>
    internal static TurnMessage? FromChatMessage(ChatMessage m)
    {
        if (m.Role == ChatRole.System)
        {
            return new TurnMessage("system", m.Text);
        }

        if (m.Role == ChatRole.User)
        {
            return new TurnMessage("user", m.Text);
        }

        if (m.Role == ChatRole.Tool)
        {
            FunctionResultContent? r = m.Contents.OfType<FunctionResultContent>().FirstOrDefault();
            if (r is null)
            {
                return null;
            }

            if (r.Exception is { } exception)
            {
                // A model call's error result (ToChatMessage forModel); session JSON never has one (Exception is not serialized).
                return new TurnMessage("tool", r.Result?.ToString() ?? exception.Message, CallId: r.CallId, IsError: true);
            }

            bool isError = r.AdditionalProperties?.TryGetValue(IsErrorKey, out object? flag) == true
                && (flag is true || (flag is JsonElement { ValueKind: JsonValueKind.True }));
            return new TurnMessage("tool", ResultText(r.Result), CallId: r.CallId, IsError: isError);
        }

        var calls = m.Contents.OfType<FunctionCallContent>()
            .Select(c => new TurnToolCall(c.CallId, c.Name, SerializeArguments(c.Arguments)))
            .ToList();
        return new TurnMessage("assistant", m.Text, calls.Count > 0 ? calls : null);
    }

    private static string ResultText(object? result) => result switch
    {
        null => string.Empty,
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString() ?? string.Empty,
        JsonElement e => e.GetRawText(),
        _ => JsonSerializer.Serialize(result, Compact),
    };

    /// <summary>Tool call arguments as a JSON object text.</summary>
    internal static string SerializeArguments(IDictionary<string, object?>? arguments) =>
        arguments is null || arguments.Count == 0 ? "{}" : JsonSerializer.Serialize(arguments, Compact);

    private static Dictionary<string, object?> ParseArguments(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, object?>>(string.IsNullOrWhiteSpace(json) ? "{}" : json, AIJsonUtilities.DefaultOptions)
                ?? new Dictionary<string, object?>();
        }
        catch (JsonException)
        {
            return new Dictionary<string, object?>();
        }
    }

    /// <summary>A tool error as the model sees it (the exception makes providers flag the result as an error).</summary>
    private sealed class ToolCallFailedException(string message) : Exception(message);
}
