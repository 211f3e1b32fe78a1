using Kestrel.Cloud.Agents.Tools;

namespace Kestrel.Cloud.Agents.Policy;

/// <summary>
/// An agent's approval policy: an ordered list of rules from AGENT.md (<c>approval:</c>). The first rule whose
/// pattern matches the tool decides. Without a match the defaults apply: read-only tools are allowed and tools
/// that change something ask. A tool that always requires approval (the shell) can be denied by a rule but never
/// allowed: an <c>allow</c> for it becomes <c>ask</c>.
/// </summary>
public sealed class ToolPolicy
{
    private readonly ToolPolicyRule[] rules;

    /// <summary>Creates a policy from rules in the order they were written.</summary>
    public ToolPolicy(IEnumerable<ToolPolicyRule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        this.rules = rules.ToArray();
    }

    /// <summary>The policy with no rules: only the defaults apply.</summary>
    public static ToolPolicy Default { get; } = new(Array.Empty<ToolPolicyRule>());

    /// <summary>The rules, first match wins.</summary>
    public IReadOnlyList<ToolPolicyRule> Rules => this.rules;

    /// <summary>Decides a call to <paramref name="tool"/> with <paramref name="arguments"/> (which may make the call read-only, see <see cref="IAgentTool.IsReadOnlyFor"/>).</summary>
    public ToolPolicyDecision Decide(IAgentTool tool, System.Text.Json.JsonElement arguments)
    {
        ArgumentNullException.ThrowIfNull(tool);
        return this.Decide(tool.Name, tool.IsReadOnlyFor(arguments), tool.RequiresApproval, tool.McpServer, tool.McpToolName);
    }

    /// <summary>Decides a call to a tool described by its properties.</summary>
    /// <param name="toolName">The name the model uses.</param>
    /// <param name="isReadOnly">True when the call changes nothing.</param>
    /// <param name="requiresApproval">True when every call needs a human (the shell).</param>
    /// <param name="mcpServer">The MCP server that serves the tool, or null for built-in tools.</param>
    /// <param name="mcpToolName">The tool's name on its MCP server, when it differs from <paramref name="toolName"/>.</param>
    public ToolPolicyDecision Decide(string toolName, bool isReadOnly, bool requiresApproval, string? mcpServer = null, string? mcpToolName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(toolName);
        for (int i = 0; i < this.rules.Length; i++)
        {
            ToolPolicyRule rule = this.rules[i];
            if (!rule.Pattern.Matches(toolName, mcpServer, mcpToolName))
            {
                continue;
            }

            if (requiresApproval && rule.Action == ToolPolicyAction.Allow)
            {
                return new ToolPolicyDecision(
                    ToolPolicyAction.Ask,
                    $"rule {i + 1} ({rule}) matched, but {toolName} always requires approval, so the call asks.",
                    rule);
            }

            return new ToolPolicyDecision(rule.Action, $"rule {i + 1} ({rule}) matched.", rule);
        }

        if (requiresApproval)
        {
            return new ToolPolicyDecision(ToolPolicyAction.Ask, $"no rule matched; {toolName} always requires approval.", null);
        }

        return isReadOnly
            ? new ToolPolicyDecision(ToolPolicyAction.Allow, "no rule matched; read-only tools are allowed by default.", null)
            : new ToolPolicyDecision(ToolPolicyAction.Ask, "no rule matched; tools that change something ask by default.", null);
    }
}
