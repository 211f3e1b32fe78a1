namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>Why an <see cref="AgentWorkspaceException"/> was thrown (the HTTP API maps these to 404, 409 and 412).</summary>
public enum AgentWorkspaceError
{
    /// <summary>The agent does not exist.</summary>
    NotFound,

    /// <summary>An agent with that name already exists.</summary>
    AlreadyExists,

    /// <summary>The agent changed since the version the caller read.</summary>
    VersionMismatch,
}

/// <summary>An agent workspace operation could not be done; the message is safe to show to the caller.</summary>
public sealed class AgentWorkspaceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AgentWorkspaceException(AgentWorkspaceError error, string agentName, string message)
        : base(message)
    {
        this.Error = error;
        this.AgentName = agentName;
    }

    /// <summary>What went wrong.</summary>
    public AgentWorkspaceError Error { get; }

    /// <summary>The agent concerned.</summary>
    public string AgentName { get; }

    internal static AgentWorkspaceException NotFound(string name) =>
        new(AgentWorkspaceError.NotFound, name, $"The agent '{name}' does not exist.");

    internal static AgentWorkspaceException AlreadyExists(string name) =>
        new(AgentWorkspaceError.AlreadyExists, name, $"The agent '{name}' already exists; update it instead, or choose another name.");

    internal static AgentWorkspaceException VersionMismatch(string name, string expected, string actual) =>
        new(AgentWorkspaceError.VersionMismatch, name, $"The agent '{name}' changed since version {expected} (it is now {actual}); read it again and reapply your change.");
}
