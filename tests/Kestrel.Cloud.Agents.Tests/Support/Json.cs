using System.Text.Json;

namespace Kestrel.Cloud.Agents.Tests.Support;

internal static class Json
{
    /// <summary>Tool arguments from an anonymous object.</summary>
    public static JsonElement Args(object value) => JsonSerializer.SerializeToElement(value);
}
