using System.Text.Json;

namespace Kestrel.Cloud.Agents.Tools;

/// <summary>
/// A tool an agent's model can call. Implementations are stateless singletons: everything about one call
/// arrives in <see cref="InvokeAsync"/>. A tool reports problems the model should see (bad arguments, a refused
/// URL, a missing file) as an error <see cref="ToolResult"/> or by throwing <see cref="ToolException"/>; any other
/// exception is logged and reaches the model only as a generic error with an id.
/// </summary>
public interface IAgentTool
{
    /// <summary>The name the model calls the tool by: letters, digits, '_' and '-', at most 64 characters (what every provider accepts).</summary>
    string Name { get; }

    /// <summary>What the tool does and when to use it, written for the model.</summary>
    string Description { get; }

    /// <summary>A JSON schema (an object schema) of the arguments.</summary>
    JsonElement ParametersSchema { get; }

    /// <summary>True when no call changes anything. Read-only calls are allowed by default and may run in parallel; others ask and run in order.</summary>
    bool IsReadOnly { get; }

    /// <summary>True when every call needs a human's approval whatever the policy says (the shell). The policy can deny such a tool but never allow it.</summary>
    bool RequiresApproval => false;

    /// <summary>The MCP server this tool comes from, or null for built-in tools. Rules written <c>mcp:&lt;server&gt;/&lt;tool&gt;</c> match only such tools.</summary>
    string? McpServer => null;

    /// <summary>The tool's own name on its MCP server, when <see cref="Name"/> is a prefixed alias; null otherwise.</summary>
    string? McpToolName => null;

    /// <summary>Whether this particular call is read-only (e.g. <c>http_fetch</c> with GET is, with POST is not). Defaults to <see cref="IsReadOnly"/>.</summary>
    bool IsReadOnlyFor(JsonElement arguments) => this.IsReadOnly;

    /// <summary>Runs one call. <paramref name="cancellationToken"/> fires when the call times out or the run is cancelled.</summary>
    Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken);
}
