namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// An agent folder is not valid. <see cref="Errors"/> lists every problem found (all are reported together);
/// the message lists them one per line. The message is safe to show to the caller.
/// </summary>
public sealed class AgentDefinitionException : Exception
{
    /// <summary>Creates the exception for <paramref name="agentName"/>.</summary>
    public AgentDefinitionException(string agentName, IReadOnlyList<AgentDefinitionError> errors)
        : base(BuildMessage(agentName, errors))
    {
        this.AgentName = agentName;
        this.Errors = errors;
    }

    /// <summary>The agent whose folder is not valid.</summary>
    public string AgentName { get; }

    /// <summary>Every problem, in file order.</summary>
    public IReadOnlyList<AgentDefinitionError> Errors { get; }

    private static string BuildMessage(string agentName, IReadOnlyList<AgentDefinitionError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0)
        {
            throw new ArgumentException("An AgentDefinitionException needs at least one error.", nameof(errors));
        }

        string noun = errors.Count == 1 ? "problem" : "problems";
        return $"The agent '{agentName}' has {errors.Count} {noun}:" + string.Concat(errors.Select(e => Environment.NewLine + "- " + e));
    }
}
