using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Cloud.Functions.Http;

/// <summary>Reads the fields of a JSON object body strictly: a wrong type or a missing required field is a 400 naming the field.</summary>
public static class JsonFields
{
    /// <summary>The body as an object; 400 <c>invalid-json</c> when it is missing or not an object.</summary>
    public static JsonElement RequireObject(JsonElement? body, string example)
    {
        if (body is not { ValueKind: JsonValueKind.Object } obj)
        {
            string found = body is null ? "an empty body" : $"a JSON {body.Value.ValueKind.ToString().ToLowerInvariant()}";
            throw new ApiProblemException(StatusCodes.Status400BadRequest, ProblemCodes.InvalidJson, $"The request body must be a JSON object, for example {example}; it is {found}.");
        }

        return obj;
    }

    /// <summary>A string field, or null when absent or null; 400 <c>invalid-field</c> when it is another type or too long.</summary>
    public static string? GetOptionalString(JsonElement obj, string name, int maxLength)
    {
        if (!TryGetProperty(obj, name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw Invalid(name, $"The field '{name}' must be a string; it is a JSON {value.ValueKind.ToString().ToLowerInvariant()}.");
        }

        string text = value.GetString()!;
        if (text.Length > maxLength)
        {
            throw Invalid(name, $"The field '{name}' is {text.Length} characters long; the limit is {maxLength}.");
        }

        return text;
    }

    /// <summary>A string field that must be present and not blank.</summary>
    public static string GetRequiredString(JsonElement obj, string name, int maxLength, string example)
    {
        string? text = GetOptionalString(obj, name, maxLength);
        if (string.IsNullOrWhiteSpace(text))
        {
            throw Invalid(name, $"The field '{name}' is required and must not be empty, for example {example}.");
        }

        return text;
    }

    /// <summary>400 <c>invalid-field</c> naming the field.</summary>
    public static ApiProblemException Invalid(string field, string detail) =>
        new(StatusCodes.Status400BadRequest, ProblemCodes.InvalidField, detail, new Dictionary<string, object?> { ["field"] = field });

    // Property names match case-insensitively, like the rest of the API's JSON binding.
    private static bool TryGetProperty(JsonElement obj, string name, out JsonElement value)
    {
        foreach (JsonProperty property in obj.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }
}
