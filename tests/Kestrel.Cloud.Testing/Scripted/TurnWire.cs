using System.Text.Json;

namespace Kestrel.Cloud.Testing.Scripted;

/// <summary>Streamed OpenAI Chat Completions answers for turns: text, and text followed by any number of tool calls.</summary>
public static class TurnWire
{
    public static ScriptedResponse Text(params string[] pieces) => OpenAIWire.StreamText(new OpenAIWire.Usage(100, 10, 0), pieces);

    public static ScriptedResponse Tools(string? text, params (string Id, string Name, string Arguments)[] calls)
    {
        var events = new List<string> { Chunk(new { role = "assistant", content = text ?? string.Empty }, null) };
        for (int i = 0; i < calls.Length; i++)
        {
            (string id, string name, string arguments) = calls[i];
            events.Add(Chunk(new { tool_calls = new[] { new { index = i, id, type = "function", function = new { name, arguments } } } }, null));
        }

        events.Add(Chunk(new { }, "tool_calls"));
        events.Add("data: " + JsonSerializer.Serialize(new
        {
            id = "chatcmpl-stream",
            @object = "chat.completion.chunk",
            created = 1_767_225_600,
            model = "gpt-test",
            choices = Array.Empty<object>(),
            usage = new { prompt_tokens = 100, completion_tokens = 10, total_tokens = 110, prompt_tokens_details = new { cached_tokens = 0 }, completion_tokens_details = new { reasoning_tokens = 0 } },
        }) + "\n\n");
        events.Add("data: [DONE]\n\n");
        return ScriptedResponse.Sse(events);
    }

    /// <summary>A stream that sends <paramref name="pieces"/> and then stays open, as a model still writing.</summary>
    public static ScriptedResponse TextThenHang(params string[] pieces)
    {
        var events = new List<string> { Chunk(new { role = "assistant", content = string.Empty }, null) };
        events.AddRange(pieces.Select(p => Chunk(new { content = p }, null)));
        return new ScriptedResponse(200, SseEvents: events, HangAfterSse: true);
    }

    /// <summary>The messages a recorded Chat Completions request sent, as (role, text) with tool results' text.</summary>
    public static IReadOnlyList<(string Role, string Text)> Messages(RecordedRequest request) =>
        request.Json.GetProperty("messages").EnumerateArray()
            .Select(m => (m.GetProperty("role").GetString()!, m.TryGetProperty("content", out JsonElement c) ? ContentText(c) : string.Empty))
            .ToList();

    private static string ContentText(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString()!,
        JsonValueKind.Array => string.Concat(content.EnumerateArray().Select(p => p.TryGetProperty("text", out JsonElement t) ? t.GetString() : string.Empty)),
        _ => string.Empty,
    };

    private static string Chunk(object delta, string? finishReason) =>
        "data: " + JsonSerializer.Serialize(new
        {
            id = "chatcmpl-stream",
            @object = "chat.completion.chunk",
            created = 1_767_225_600,
            model = "gpt-test",
            choices = new[] { new { index = 0, delta, logprobs = (object?)null, finish_reason = finishReason } },
        }) + "\n\n";
}
