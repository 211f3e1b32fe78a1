namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>Start-up helpers for <see cref="IAgentWorkspace"/>.</summary>
public static class AgentWorkspaceExtensions
{
    /// <summary>
    /// Creates the <c>default</c> agent (<see cref="DefaultAgent"/>) when it does not exist; true when it was created.
    /// Called at every start, so a deleted default agent comes back on the next start.
    /// </summary>
    public static async Task<bool> EnsureDefaultAgentAsync(this IAgentWorkspace workspace, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        if (await workspace.ExistsAsync(AgentName.Default, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        try
        {
            await workspace.CreateAgentAsync(AgentName.Default, DefaultAgent.Files, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AgentWorkspaceException ex) when (ex.Error == AgentWorkspaceError.AlreadyExists)
        {
            // Another process created it first.
            return false;
        }
    }
}
