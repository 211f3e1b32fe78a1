namespace Kestrel.Cloud.Agents.Policy;

/// <summary>The policy's answer for one tool call, with the reason shown in the run stream and to approvers.</summary>
/// <param name="Action">Allow, deny or ask.</param>
/// <param name="Reason">Why, in one sentence, e.g. "rule 2 (files_* → allow) matched."</param>
/// <param name="Rule">The rule that matched, or null when a default applied.</param>
public sealed record ToolPolicyDecision(ToolPolicyAction Action, string Reason, ToolPolicyRule? Rule);
