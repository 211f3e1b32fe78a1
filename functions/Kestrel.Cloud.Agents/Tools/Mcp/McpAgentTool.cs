using System.Text.Json;
using ModelContextProtocol.Protocol;

namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// One tool of an MCP server, offered to models as <c>&lt;server&gt;__&lt;tool&gt;</c> (see <see cref="McpToolNaming"/>).
/// The description and the input schema are passed through as the server gives them. The tool is read-only only when
/// the server says so (<c>annotations.readOnlyHint: true</c>); without that hint it counts as changing something, so
/// by default it asks for approval. Calls go through the server's <see cref="McpServerConnection"/> (which reconnects
/// a dropped connection first); the result's content becomes text capped at
/// <see cref="McpServersOptions.MaxResultSizeBytes"/>, and <c>isError: true</c> becomes a tool error.
/// </summary>
public sealed class McpAgentTool : IAgentTool
{
    private readonly McpServerConnection connection;

    internal McpAgentTool(McpServerConnection connection, Tool tool, string name)
    {
        this.connection = connection;
        this.Name = name;
        this.McpToolName = tool.Name;
        this.Description = string.IsNullOrWhiteSpace(tool.Description)
            ? $"{(string.IsNullOrWhiteSpace(tool.Title) ? tool.Name : tool.Title)} (tool {tool.Name} of the MCP server {connection.Name})."
            : tool.Description;
        this.ParametersSchema = tool.InputSchema.ValueKind == JsonValueKind.Object
            ? tool.InputSchema.Clone()
            : ToolSchemas.Parse("""{"type":"object"}""");
        this.IsReadOnly = tool.Annotations?.ReadOnlyHint == true;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public JsonElement ParametersSchema { get; }

    /// <inheritdoc/>
    public bool IsReadOnly { get; }

    /// <inheritdoc/>
    public string? McpServer => this.connection.Name;

    /// <inheritdoc/>
    public string McpToolName { get; }

    /// <inheritdoc/>
    public async Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        Dictionary<string, object?> args = ToArguments(arguments);
        CallToolResult result = await this.connection.CallToolAsync(this.McpToolName, args, cancellationToken).ConfigureAwait(false);
        return ToToolResult(result, this.connection.MaxResultSizeBytes);
    }

    /// <summary>Turns an MCP result into text for the model: text blocks as they are, other blocks as a short note, capped.</summary>
    internal static ToolResult ToToolResult(CallToolResult result, int maxBytes)
    {
        var text = new System.Text.StringBuilder();
        long budget = (long)maxBytes * 4; // stop collecting well past the cap; Limit cuts precisely
        foreach (ContentBlock block in result.Content ?? [])
        {
            if (text.Length > budget)
            {
                break;
            }

            if (text.Length > 0)
            {
                text.Append('\n');
            }

            text.Append(block switch
            {
                TextContentBlock t => t.Text,
                ImageContentBlock i => $"[image: {i.MimeType}, {i.DecodedData.Length:N0} bytes, not shown]",
                AudioContentBlock a => $"[audio: {a.MimeType}, {a.DecodedData.Length:N0} bytes, not shown]",
                EmbeddedResourceBlock { Resource: TextResourceContents r } => $"[resource {r.Uri}]\n{r.Text}",
                EmbeddedResourceBlock e => $"[resource {e.Resource.Uri}: {e.Resource.MimeType ?? "binary"}, not shown]",
                ResourceLinkBlock l => $"[resource link: {l.Name} {l.Uri}]",
                _ => $"[{block.Type} content, not shown]",
            });
        }

        if (text.Length == 0 && result.StructuredContent is { } structured)
        {
            text.Append(structured.GetRawText());
        }

        bool isError = result.IsError == true;
        if (text.Length == 0)
        {
            text.Append(isError ? "The tool reported an error without a message." : "(no content)");
        }

        return ToolOutput.Limit(new ToolResult(text.ToString(), isError), maxBytes);
    }

    private static Dictionary<string, object?> ToArguments(JsonElement arguments)
    {
        var args = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (arguments.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return args;
        }

        if (arguments.ValueKind != JsonValueKind.Object)
        {
            throw new ToolException($"The arguments must be a JSON object; they are a JSON {arguments.ValueKind.ToString().ToLowerInvariant()}.");
        }

        foreach (JsonProperty property in arguments.EnumerateObject())
        {
            args[property.Name] = property.Value.Clone();
        }

        return args;
    }
}
