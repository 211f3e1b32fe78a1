using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Tools;

/// <summary>
/// Describes tools to a model as Microsoft.Extensions.AI declarations (<see cref="AIFunctionDeclaration"/>):
/// name, description and parameter schema, but not invocable. Tool calls are run by the turn orchestration
/// (policy, approval, activity), never by the chat client itself.
/// </summary>
public static class AgentToolDeclarations
{
    /// <summary>The declaration of one tool.</summary>
    public static AIFunctionDeclaration ToDeclaration(this IAgentTool tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        return AIFunctionFactory.CreateDeclaration(tool.Name, tool.Description, tool.ParametersSchema);
    }

    /// <summary>Declarations for <paramref name="tools"/>, in order, ready for <c>ChatOptions.Tools</c>.</summary>
    public static IList<AITool> ToAITools(this IEnumerable<IAgentTool> tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        return tools.Select(t => (AITool)t.ToDeclaration()).ToList();
    }
}
