namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// Where agents live: one folder per agent (AGENT.md, TOOLS.md, HEARTBEAT.md, memory/, skills/, files/).
/// Standalone it is a local folder (<see cref="LocalAgentWorkspace"/>); on Azure a blob container.
/// Names are validated (<see cref="AgentName"/>); an invalid name throws <see cref="ArgumentException"/>.
/// </summary>
public interface IAgentWorkspace
{
    /// <summary>The names of every agent (folders with an AGENT.md and a valid name), sorted.</summary>
    Task<IReadOnlyList<string>> ListAgentNamesAsync(CancellationToken cancellationToken = default);

    /// <summary>True when the agent exists.</summary>
    Task<bool> ExistsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Reads and validates an agent; null when it does not exist.</summary>
    /// <exception cref="AgentDefinitionException">The agent's files have problems.</exception>
    Task<AgentDefinition?> GetAgentAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Creates an agent from its definition files, which are validated first; nothing is written when they are not valid.</summary>
    /// <exception cref="AgentDefinitionException">The files have problems.</exception>
    /// <exception cref="AgentWorkspaceException">The agent already exists (<see cref="AgentWorkspaceError.AlreadyExists"/>).</exception>
    Task<AgentDefinition> CreateAgentAsync(string name, AgentFiles files, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces an agent's definition files (AGENT.md, and TOOLS.md/HEARTBEAT.md, removed when null), validated first.
    /// Memory, skills and files are kept. With <paramref name="expectedVersion"/>, the update only happens while
    /// the agent's <see cref="AgentDefinition.Version"/> still equals it.
    /// </summary>
    /// <exception cref="AgentDefinitionException">The files have problems.</exception>
    /// <exception cref="AgentWorkspaceException">The agent does not exist, or its version changed.</exception>
    Task<AgentDefinition> UpdateAgentAsync(string name, AgentFiles files, string? expectedVersion = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes an agent and everything in its folder; false when it did not exist.</summary>
    Task<bool> DeleteAgentAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads a file in an agent's folder (e.g. <c>memory/notes.md</c>, <c>skills/web/SKILL.md</c>); null when it
    /// does not exist. The path is confined to the agent's folder.
    /// </summary>
    /// <exception cref="Tools.Files.WorkspacePathException">The path is malformed or leads outside the folder.</exception>
    Task<string?> ReadFileAsync(string name, string relativePath, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes a file in an agent's folder atomically (e.g. a memory file), creating folders as needed. The
    /// definition files cannot be written this way (use <see cref="UpdateAgentAsync"/>), so they are always validated.
    /// </summary>
    /// <exception cref="AgentWorkspaceException">The agent does not exist.</exception>
    /// <exception cref="Tools.Files.WorkspacePathException">The path is malformed, leads outside the folder, or names a definition file.</exception>
    Task WriteFileAsync(string name, string relativePath, string content, CancellationToken cancellationToken = default);
}
