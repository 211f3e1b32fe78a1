namespace Kestrel.Cloud.Agents.Tools;

/// <summary>Who is calling a tool and where: passed to every <see cref="IAgentTool.InvokeAsync"/>.</summary>
/// <param name="AgentName">The agent whose model made the call.</param>
/// <param name="WorkspaceDirectory">
/// The folder the file tools and the shell are confined to (for a local workspace, the agent's <c>files/</c>
/// folder, see <see cref="Definitions.LocalAgentWorkspace.GetFilesDirectory"/>).
/// </param>
/// <param name="RunId">The run the call belongs to, when there is one.</param>
/// <param name="CallId">The model's id for this tool call, when there is one.</param>
public sealed record ToolInvocationContext(string AgentName, string WorkspaceDirectory, string? RunId = null, string? CallId = null);
