namespace Kestrel.Cloud.Agents.Tools;

/// <summary>What a tool call returns to the model.</summary>
/// <param name="Text">The text the model reads.</param>
/// <param name="IsError">True when the call failed; the model receives the text as a tool error and can adapt.</param>
/// <param name="IsTruncated">True when the text was cut to a size limit; the text then ends with a note saying so.</param>
public sealed record ToolResult(string Text, bool IsError = false, bool IsTruncated = false)
{
    /// <summary>A successful result.</summary>
    public static ToolResult Success(string text) => new(text);

    /// <summary>A failed call, with a message for the model that names the problem and the fix.</summary>
    public static ToolResult Error(string message) => new(message, IsError: true);
}
