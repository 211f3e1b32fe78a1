using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kestrel.Cloud.Durable;

/// <summary>Turns inputs, outputs and event payloads into strings stored in history, and back.</summary>
public abstract class DataConverter
{
    /// <summary>Serializes a value; null stays null.</summary>
    public abstract string? Serialize(object? value);

    /// <summary>Deserializes a value; null gives default.</summary>
    public abstract object? Deserialize(string? data, Type targetType);

    /// <summary>Deserializes a value of type <typeparamref name="T"/>.</summary>
    public T? Deserialize<T>(string? data) => (T?)this.Deserialize(data, typeof(T));
}

/// <summary>System.Text.Json with web defaults (camelCase, case-insensitive reading, enums as strings).</summary>
public sealed class JsonDataConverter : DataConverter
{
    /// <summary>The options the default converter uses.</summary>
    public static readonly JsonSerializerOptions DefaultOptions = CreateOptions();

    /// <summary>A shared instance.</summary>
    public static readonly JsonDataConverter Default = new(DefaultOptions);

    private readonly JsonSerializerOptions options;

    /// <summary>Creates a converter with the given options.</summary>
    public JsonDataConverter(JsonSerializerOptions? options = null)
    {
        this.options = options ?? DefaultOptions;
    }

    /// <inheritdoc/>
    public override string? Serialize(object? value) =>
        value is null ? null : JsonSerializer.Serialize(value, value.GetType(), this.options);

    /// <inheritdoc/>
    public override object? Deserialize(string? data, Type targetType)
    {
        if (data is null)
        {
            return null;
        }

        return JsonSerializer.Deserialize(data, targetType, this.options);
    }

    private static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        o.Converters.Add(new JsonStringEnumConverter());
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}
