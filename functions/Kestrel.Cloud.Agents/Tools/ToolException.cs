namespace Kestrel.Cloud.Agents.Tools;

/// <summary>
/// The one exception whose message reaches the model: throw it from a tool for problems the model can fix
/// (bad arguments, a path outside the workspace). Write the message for the model: the value, the rule, the fix.
/// </summary>
public class ToolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ToolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ToolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
