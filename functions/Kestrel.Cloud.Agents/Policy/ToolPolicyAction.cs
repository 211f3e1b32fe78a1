namespace Kestrel.Cloud.Agents.Policy;

/// <summary>What the tool policy decides for one tool call.</summary>
public enum ToolPolicyAction
{
    /// <summary>Run the tool without asking anyone.</summary>
    Allow,

    /// <summary>Do not run the tool; the model receives a tool error saying the policy refused it.</summary>
    Deny,

    /// <summary>Ask a human; the call waits for an approval (a timeout counts as a denial).</summary>
    Ask,
}
