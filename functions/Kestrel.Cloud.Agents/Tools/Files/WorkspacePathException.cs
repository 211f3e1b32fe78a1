namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary>A path was refused because it is malformed or leads outside its workspace. The message says why and is safe to show.</summary>
public sealed class WorkspacePathException : ToolException
{
    /// <summary>Creates the exception.</summary>
    public WorkspacePathException(string message)
        : base(message)
    {
    }
}
