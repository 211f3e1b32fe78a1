using System.Text.Json;

namespace Kestrel.Cloud.Testing.Scripted;

/// <summary>
/// Responses in OpenAI's Chat Completions wire format (POST /v1/chat/completions): a <c>chat.completion</c> object,
/// <c>chat.completion.chunk</c> SSE events ending in <c>data: [DONE]</c>, and <c>{"error": {...}}</c> bodies.
/// </summary>
public static class OpenAIWire
{
    public sealed record Usage(int Prompt, int Completion, int Cached = 0);

    public sealed record ToolCall(string Id, string Name, string Arguments);

    public static ScriptedResponse Text(string text, Usage? usage = null, string model = "gpt-test") =>
        Completion(new { role = "assistant", content = text, refusal = (string?)null }, "stop", usage, model);

    public static ScriptedResponse ToolCalls(Usage? usage, params ToolCall[] calls) =>
        Completion(
            new
            {
                role = "assistant",
                content = (string?)null,
                refusal = (string?)null,
                tool_calls = calls.Select(c => new { id = c.Id, type = "function", function = new { name = c.Name, arguments = c.Arguments } }).ToArray(),
            },
            "tool_calls",
            usage,
            "gpt-test");

    /// <summary>One chunk per text piece, then a finish chunk, then (as with stream_options.include_usage) a usage chunk with no choices, then [DONE].</summary>
    public static ScriptedResponse StreamText(Usage usage, params string[] pieces)
    {
        var events = new List<string> { Chunk(new { role = "assistant", content = string.Empty }, null) };
        events.AddRange(pieces.Select(p => Chunk(new { content = p }, null)));
        events.Add(Chunk(new { }, "stop"));
        events.Add(UsageChunk(usage));
        events.Add("data: [DONE]\n\n");
        return ScriptedResponse.Sse(events);
    }

    /// <summary>A streamed tool call: the first delta names the call, the arguments follow in <paramref name="argumentPieces"/>.</summary>
    public static ScriptedResponse StreamToolCall(Usage usage, string id, string name, params string[] argumentPieces)
    {
        var events = new List<string>
        {
            Chunk(new { role = "assistant", content = (string?)null, tool_calls = new[] { new { index = 0, id, type = "function", function = new { name, arguments = string.Empty } } } }, null),
        };
        events.AddRange(argumentPieces.Select(p => Chunk(new { tool_calls = new[] { new { index = 0, function = new { arguments = p } } } }, null)));
        events.Add(Chunk(new { }, "tool_calls"));
        events.Add(UsageChunk(usage));
        events.Add("data: [DONE]\n\n");
        return ScriptedResponse.Sse(events);
    }

    public static ScriptedResponse Error(int status, string message, string type, string? code, params (string Name, string Value)[] headers) =>
        ScriptedResponse.Json(status, JsonSerializer.Serialize(new { error = new { message, type, param = (string?)null, code } }), headers);

    public static ScriptedResponse RateLimited(string retryAfterSeconds) =>
        Error(429, "Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded", ("Retry-After", retryAfterSeconds));

    public static ScriptedResponse ServerError() =>
        Error(500, "The server had an error while processing your request. Sorry about that!", "server_error", null);

    public static ScriptedResponse InvalidKey() =>
        Error(401, "Incorrect API key provided: sk-bad***. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key");

    public static ScriptedResponse ModelNotFound(string model) =>
        Error(404, $"The model `{model}` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found");

    public static ScriptedResponse ContextTooLong() =>
        Error(400, "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.", "invalid_request_error", "context_length_exceeded");

    private static ScriptedResponse Completion(object message, string finishReason, Usage? usage, string model)
    {
        usage ??= new Usage(10, 5);
        string body = JsonSerializer.Serialize(new
        {
            id = "chatcmpl-scripted",
            @object = "chat.completion",
            created = 1_767_225_600,
            model,
            choices = new[] { new { index = 0, message, logprobs = (object?)null, finish_reason = finishReason } },
            usage = UsageObject(usage),
            system_fingerprint = "fp_scripted",
        });
        return ScriptedResponse.Json(200, body);
    }

    private static object UsageObject(Usage usage) => new
    {
        prompt_tokens = usage.Prompt,
        completion_tokens = usage.Completion,
        total_tokens = usage.Prompt + usage.Completion,
        prompt_tokens_details = new { cached_tokens = usage.Cached, audio_tokens = 0 },
        completion_tokens_details = new { reasoning_tokens = 0, audio_tokens = 0 },
    };

    private static string Chunk(object delta, string? finishReason) =>
        "data: " + JsonSerializer.Serialize(new
        {
            id = "chatcmpl-stream",
            @object = "chat.completion.chunk",
            created = 1_767_225_600,
            model = "gpt-test",
            system_fingerprint = "fp_scripted",
            choices = new[] { new { index = 0, delta, logprobs = (object?)null, finish_reason = finishReason } },
        }) + "\n\n";

    private static string UsageChunk(Usage usage) =>
        "data: " + JsonSerializer.Serialize(new
        {
            id = "chatcmpl-stream",
            @object = "chat.completion.chunk",
            created = 1_767_225_600,
            model = "gpt-test",
            choices = Array.Empty<object>(),
            usage = UsageObject(usage),
        }) + "\n\n";
}
