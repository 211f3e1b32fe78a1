using System.Text.Json;

namespace Kestrel.Cloud.Agents.Tools;

/// <summary>Reads tool arguments (a JSON object from the model); each problem becomes a <see cref="ToolException"/> naming the argument.</summary>
public static class ToolArguments
{
    /// <summary>A required string argument; empty strings are accepted.</summary>
    public static string GetRequiredString(JsonElement arguments, string name)
        => GetString(arguments, name) ?? throw new ToolException($"The argument '{name}' is required.");

    /// <summary>An optional string argument (null when absent or JSON null).</summary>
    public static string? GetString(JsonElement arguments, string name)
    {
        if (!TryGet(arguments, name, out JsonElement value))
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new ToolException($"The argument '{name}' must be a string (found {Describe(value)}).");
    }

    /// <summary>An optional integer argument within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static int? GetInt32(JsonElement arguments, string name, int min, int max)
    {
        if (!TryGet(arguments, name, out JsonElement value))
        {
            return null;
        }

        // Models sometimes send numbers as strings; accept "12".
        bool ok = value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt32(out _),
            JsonValueKind.String => int.TryParse(value.GetString(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out _),
            _ => false,
        };
        if (!ok)
        {
            throw new ToolException($"The argument '{name}' must be a whole number between {min} and {max} (found {Describe(value)}).");
        }

        int number = value.ValueKind == JsonValueKind.Number
            ? value.GetInt32()
            : int.Parse(value.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        if (number < min || number > max)
        {
            throw new ToolException($"The argument '{name}' must be between {min} and {max} (found {number}).");
        }

        return number;
    }

    /// <summary>An optional boolean argument.</summary>
    public static bool? GetBoolean(JsonElement arguments, string name)
    {
        if (!TryGet(arguments, name, out JsonElement value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.String when bool.TryParse(value.GetString(), out bool b) => b,
            _ => throw new ToolException($"The argument '{name}' must be true or false (found {Describe(value)})."),
        };
    }

    /// <summary>An optional object argument whose values are strings (e.g. HTTP headers).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> GetStringMap(JsonElement arguments, string name)
    {
        if (!TryGet(arguments, name, out JsonElement value))
        {
            return Array.Empty<KeyValuePair<string, string>>();
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ToolException($"The argument '{name}' must be an object of string values (found {Describe(value)}).");
        }

        var result = new List<KeyValuePair<string, string>>();
        foreach (JsonProperty property in value.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                throw new ToolException($"The argument '{name}.{property.Name}' must be a string (found {Describe(property.Value)}).");
            }

            result.Add(new(property.Name, property.Value.GetString()!));
        }

        return result;
    }

    private static bool TryGet(JsonElement arguments, string name, out JsonElement value)
    {
        if (arguments.ValueKind == JsonValueKind.Object && arguments.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        if (arguments.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined or JsonValueKind.Null))
        {
            throw new ToolException($"The arguments must be a JSON object (found {Describe(arguments)}).");
        }

        value = default;
        return false;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Shorten(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the value {value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
