namespace Kestrel.Cloud.Agents.Policy;

/// <summary>One approval rule from AGENT.md: calls to tools matching <see cref="Pattern"/> get <see cref="Action"/>.</summary>
/// <param name="Pattern">Which tools the rule covers.</param>
/// <param name="Action">What happens to their calls.</param>
public sealed record ToolPolicyRule(ToolPattern Pattern, ToolPolicyAction Action)
{
    /// <summary>Parses an action as written in AGENT.md: <c>allow</c>, <c>deny</c> or <c>ask</c> (case-insensitive).</summary>
    public static bool TryParseAction(string? text, out ToolPolicyAction action)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "allow":
                action = ToolPolicyAction.Allow;
                return true;
            case "deny":
                action = ToolPolicyAction.Deny;
                return true;
            case "ask":
                action = ToolPolicyAction.Ask;
                return true;
            default:
                action = default;
                return false;
        }
    }

    /// <summary>The rule as written in AGENT.md, e.g. <c>files_* → allow</c>.</summary>
    public override string ToString() => $"{this.Pattern.Text} → {this.Action.ToString().ToLowerInvariant()}";
}
