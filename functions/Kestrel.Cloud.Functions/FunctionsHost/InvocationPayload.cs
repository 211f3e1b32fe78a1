using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kestrel.Cloud.Functions.FunctionsHost;

/// <summary>
/// What the Azure Functions host posts to a custom handler for a non-HTTP trigger:
/// <c>{"Data": {binding: value}, "Metadata": {name: value}}</c>. String values are JSON-encoded a second time
/// (<c>"\"abc\""</c>), numbers may arrive as numbers or as strings, objects as objects: every accessor here decodes
/// defensively.
/// </summary>
internal sealed class InvocationPayload
{
    private readonly JsonElement data;
    private readonly JsonElement metadata;

    private InvocationPayload(JsonElement data, JsonElement metadata)
    {
        this.data = data;
        this.metadata = metadata;
    }

    /// <summary>Parses a request body; throws <see cref="FormatException"/> naming what is missing.</summary>
    public static InvocationPayload Parse(ReadOnlySpan<byte> body)
    {
        JsonElement root;
        try
        {
            root = JsonSerializer.Deserialize<JsonElement>(body);
        }
        catch (JsonException ex)
        {
            throw new FormatException("The invocation body is not JSON; the Functions host posts {\"Data\": {...}, \"Metadata\": {...}}.", ex);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("The invocation body is not a JSON object; the Functions host posts {\"Data\": {...}, \"Metadata\": {...}}.");
        }

        JsonElement data = Property(root, "Data") ?? default;
        JsonElement metadata = Property(root, "Metadata") ?? default;
        return new InvocationPayload(data, metadata);
    }

    /// <summary>A trigger or input binding value as text (a queue message's body), or null when absent.</summary>
    public string? DataText(string bindingName) =>
        this.data.ValueKind == JsonValueKind.Object && Property(this.data, bindingName) is { } value ? DecodeText(value) : null;

    /// <summary>A trigger metadata value as text, or null when absent.</summary>
    public string? MetadataText(string name) =>
        this.metadata.ValueKind == JsonValueKind.Object && Property(this.metadata, name) is { } value ? DecodeText(value) : null;

    /// <summary>A trigger metadata value as a whole number; throws <see cref="FormatException"/> when absent or not a number.</summary>
    public long MetadataInt64(string name)
    {
        string? text = this.MetadataText(name);
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new FormatException($"The invocation metadata '{name}' is {(text is null ? "missing" : $"'{text}', not a whole number")}.");
    }

    /// <summary>A trigger metadata value as text; throws <see cref="FormatException"/> when absent or empty.</summary>
    public string RequiredMetadataText(string name)
    {
        string? text = this.MetadataText(name);
        return string.IsNullOrEmpty(text) ? throw new FormatException($"The invocation metadata '{name}' is missing.") : text;
    }

    /// <summary>
    /// A value as text: strings lose every layer of JSON string encoding (at most a few), numbers and booleans keep
    /// their JSON spelling, objects and arrays become their JSON text.
    /// </summary>
    internal static string? DecodeText(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return null;
            case JsonValueKind.String:
                string text = value.GetString()!;
                for (int layer = 0; layer < 3 && LooksLikeJsonString(text); layer++)
                {
                    try
                    {
                        text = JsonSerializer.Deserialize<string>(text) ?? text;
                    }
                    catch (JsonException)
                    {
                        break;
                    }
                }

                return text;
            default:
                return value.GetRawText();
        }
    }

    private static bool LooksLikeJsonString(string text) => text.Length >= 2 && text[0] == '"' && text[^1] == '"';

    private static JsonElement? Property(JsonElement obj, string name)
    {
        if (obj.TryGetProperty(name, out JsonElement exact))
        {
            return exact;
        }

        foreach (JsonProperty p in obj.EnumerateObject())
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return p.Value;
            }
        }

        return null;
    }
}

/// <summary>
/// The custom handler's answer to an invocation: <c>{"Outputs": {}, "Logs": [...], "ReturnValue": null}</c>. The
/// handler writes to storage with the SDK, never through output bindings, so <see cref="Outputs"/> stays empty.
/// </summary>
internal sealed class InvocationResult
{
    /// <summary>Output binding values (none).</summary>
    [JsonPropertyName("Outputs")]
    public Dictionary<string, object?> Outputs { get; } = new();

    /// <summary>Lines the host writes to its invocation log.</summary>
    [JsonPropertyName("Logs")]
    public List<string> Logs { get; } = new();

    /// <summary>The function's return value (none).</summary>
    [JsonPropertyName("ReturnValue")]
    public object? ReturnValue { get; }
}
