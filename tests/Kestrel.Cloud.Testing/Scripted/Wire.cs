
namespace Kestrel.Cloud.Testing.Scripted;

/// <summary>The two wire protocols the scripted server speaks.</summary>
public enum Vendor
{
    OpenAI,
    Anthropic,
}

/// <summary>The same scripted situations in either vendor's wire format, so one test proves both.</summary>
public static class Wire
{
    public static ScriptedResponse Text(Vendor vendor, string text, string model = "model-a") => vendor == Vendor.OpenAI
        ? OpenAIWire.Text(text, new OpenAIWire.Usage(100, 10, 40), model)
        : AnthropicWire.Text(text, new AnthropicWire.Usage(60, 10, CacheRead: 40), model);

    public static ScriptedResponse StreamText(Vendor vendor, params string[] pieces) => vendor == Vendor.OpenAI
        ? OpenAIWire.StreamText(new OpenAIWire.Usage(100, 10, 40), pieces)
        : AnthropicWire.StreamText(new AnthropicWire.Usage(60, 10, CacheRead: 40), pieces);

    public static ScriptedResponse RateLimited(Vendor vendor, string retryAfterSeconds) => vendor == Vendor.OpenAI
        ? OpenAIWire.RateLimited(retryAfterSeconds)
        : AnthropicWire.RateLimited(retryAfterSeconds);

    public static ScriptedResponse ServerError(Vendor vendor) => vendor == Vendor.OpenAI
        ? OpenAIWire.ServerError()
        : AnthropicWire.Error(500, "api_error", "Internal server error");

    public static ScriptedResponse InvalidKey(Vendor vendor) => vendor == Vendor.OpenAI ? OpenAIWire.InvalidKey() : AnthropicWire.InvalidKey();

    public static ScriptedResponse ModelNotFound(Vendor vendor, string model) => vendor == Vendor.OpenAI
        ? OpenAIWire.ModelNotFound(model)
        : AnthropicWire.Error(404, "not_found_error", $"model: {model}");

    public static ScriptedResponse ContextTooLong(Vendor vendor) => vendor == Vendor.OpenAI ? OpenAIWire.ContextTooLong() : AnthropicWire.PromptTooLong();

    /// <summary>The API key a request carried.</summary>
    public static string? KeyOf(RecordedRequest request) =>
        request.Header("x-api-key") ?? request.Header("Authorization")?.Replace("Bearer ", string.Empty, StringComparison.Ordinal);

    public static string ModelOf(RecordedRequest request) => request.Json.GetProperty("model").GetString()!;
}
