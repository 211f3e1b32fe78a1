using System.Text.Json;

namespace Kestrel.Cloud.Testing.Scripted;

/// <summary>
/// Responses in Anthropic's Messages wire format (POST /v1/messages): a <c>message</c> object, the SSE event stream
/// (message_start, content_block_start/delta/stop, message_delta with usage, message_stop, plus a ping), and
/// <c>{"type":"error","error":{...}}</c> bodies.
/// </summary>
public static class AnthropicWire
{
    public sealed record Usage(int Input, int Output, int CacheRead = 0, int CacheCreation = 0);

    public static ScriptedResponse Text(string text, Usage? usage = null, string model = "claude-test") =>
        Message(new object[] { new { type = "text", text } }, "end_turn", usage, model);

    public static ScriptedResponse ToolUse(string id, string name, object input, Usage? usage = null, string? leadingText = null)
    {
        var content = new List<object>();
        if (leadingText is not null)
        {
            content.Add(new { type = "text", text = leadingText });
        }

        content.Add(new { type = "tool_use", id, name, input });
        return Message(content.ToArray(), "tool_use", usage, "claude-test");
    }

    public static ScriptedResponse StreamText(Usage usage, params string[] pieces)
    {
        var events = new List<string>
        {
            MessageStart(usage),
            Event("content_block_start", new { type = "content_block_start", index = 0, content_block = new { type = "text", text = string.Empty } }),
            Event("ping", new { type = "ping" }),
        };
        events.AddRange(pieces.Select(p => Event("content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = p } })));
        events.Add(Event("content_block_stop", new { type = "content_block_stop", index = 0 }));
        events.AddRange(MessageEnd("end_turn", usage));
        return ScriptedResponse.Sse(events);
    }

    public static ScriptedResponse StreamToolUse(Usage usage, string id, string name, params string[] jsonPieces)
    {
        var events = new List<string>
        {
            MessageStart(usage),
            Event("content_block_start", new { type = "content_block_start", index = 0, content_block = new { type = "text", text = string.Empty } }),
            Event("content_block_delta", new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = "Let me check." } }),
            Event("content_block_stop", new { type = "content_block_stop", index = 0 }),
            Event("content_block_start", new { type = "content_block_start", index = 1, content_block = new { type = "tool_use", id, name, input = new { } } }),
        };
        events.AddRange(jsonPieces.Select(p => Event("content_block_delta", new { type = "content_block_delta", index = 1, delta = new { type = "input_json_delta", partial_json = p } })));
        events.Add(Event("content_block_stop", new { type = "content_block_stop", index = 1 }));
        events.AddRange(MessageEnd("tool_use", usage));
        return ScriptedResponse.Sse(events);
    }

    public static ScriptedResponse Error(int status, string type, string message, params (string Name, string Value)[] headers) =>
        ScriptedResponse.Json(status, JsonSerializer.Serialize(new { type = "error", error = new { type, message }, request_id = "req_scripted" }), headers);

    public static ScriptedResponse RateLimited(string retryAfterSeconds) =>
        Error(429, "rate_limit_error", "This request would exceed the rate limit for your organization of 50 requests per minute.", ("retry-after", retryAfterSeconds));

    public static ScriptedResponse Overloaded() => Error(529, "overloaded_error", "Overloaded");

    public static ScriptedResponse InvalidKey() => Error(401, "authentication_error", "invalid x-api-key");

    public static ScriptedResponse PromptTooLong() => Error(400, "invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum");

    private static ScriptedResponse Message(object[] content, string stopReason, Usage? usage, string model)
    {
        usage ??= new Usage(10, 5);
        string body = JsonSerializer.Serialize(new
        {
            id = "msg_scripted",
            type = "message",
            role = "assistant",
            model,
            content,
            stop_reason = stopReason,
            stop_sequence = (string?)null,
            usage = new { input_tokens = usage.Input, output_tokens = usage.Output, cache_creation_input_tokens = usage.CacheCreation, cache_read_input_tokens = usage.CacheRead },
        });
        return ScriptedResponse.Json(200, body);
    }

    private static string MessageStart(Usage usage) =>
        Event("message_start", new
        {
            type = "message_start",
            message = new
            {
                id = "msg_stream",
                type = "message",
                role = "assistant",
                model = "claude-test",
                content = Array.Empty<object>(),
                stop_reason = (string?)null,
                stop_sequence = (string?)null,
                usage = new { input_tokens = usage.Input, output_tokens = 1, cache_creation_input_tokens = usage.CacheCreation, cache_read_input_tokens = usage.CacheRead },
            },
        });

    private static IEnumerable<string> MessageEnd(string stopReason, Usage usage)
    {
        yield return Event("message_delta", new { type = "message_delta", delta = new { stop_reason = stopReason, stop_sequence = (string?)null }, usage = new { output_tokens = usage.Output } });
        yield return Event("message_stop", new { type = "message_stop" });
    }

    private static string Event(string name, object data) => $"event: {name}\ndata: {JsonSerializer.Serialize(data)}\n\n";
}
