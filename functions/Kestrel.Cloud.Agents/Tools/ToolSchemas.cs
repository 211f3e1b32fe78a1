using System.Text.Json;

namespace Kestrel.Cloud.Agents.Tools;

/// <summary>Builds parameter schemas from JSON text.</summary>
internal static class ToolSchemas
{
    public static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
