using Kestrel.Cloud.Agents.Tools.Files;

namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// Rules of an agent folder shared by every <see cref="IAgentWorkspace"/> (the local folder and the blob container):
/// which files are definition files, which paths may be read and written, and how large each file may be.
/// </summary>
public static class AgentFolder
{
    /// <summary>The folder inside an agent's folder that the file tools and the shell work in.</summary>
    public const string FilesFolder = "files";

    /// <summary>The definition files: written only through create and update, which validate them.</summary>
    public static IReadOnlyList<string> DefinitionFiles { get; } = new[]
    {
        AgentDefinitionParser.AgentFileName, AgentDefinitionParser.ToolsFileName, AgentDefinitionParser.HeartbeatFileName,
    };

    /// <summary>
    /// Checks a relative path without touching any storage and returns it normalised ('/' separators, no '.' or
    /// empty segments; "." for the folder itself). Refuses what <see cref="WorkspacePathGuard"/> refuses: '..'
    /// segments, absolute paths, '~/', drive letters, UNC paths, NUL characters and paths over
    /// <see cref="WorkspacePathGuard.MaxPathLength"/> characters.
    /// </summary>
    /// <exception cref="WorkspacePathException">The path is refused; the message says why.</exception>
    public static string NormalizeRelativePath(string? path)
    {
        string[] segments = WorkspacePathGuard.SplitRelative(path);
        return segments.Length == 0 ? "." : string.Join('/', segments);
    }

    /// <summary>
    /// Checks that <paramref name="content"/> may be written to <paramref name="relativePath"/> (already normalised)
    /// of agent <paramref name="agentName"/>: definition files are refused and <c>skills/&lt;x&gt;/SKILL.md</c> is validated.
    /// </summary>
    /// <exception cref="WorkspacePathException">The path names a definition file or the folder itself.</exception>
    /// <exception cref="AgentDefinitionException">The skill file has problems.</exception>
    public static void CheckWritable(string agentName, string relativePath, string content)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        ArgumentNullException.ThrowIfNull(content);
        if (DefinitionFiles.Any(f => string.Equals(relativePath, f, StringComparison.OrdinalIgnoreCase)))
        {
            throw new WorkspacePathException($"'{relativePath}' is a definition file; change it with an agent update, which validates it.");
        }

        if (relativePath == ".")
        {
            throw new WorkspacePathException("'.' is a folder, not a file.");
        }

        string[] parts = relativePath.Split('/');
        if (parts.Length == 3 && parts[0] == AgentDefinitionParser.SkillsFolder && parts[2] == AgentDefinitionParser.SkillFileName)
        {
            AgentDefinitionParser.ParseSkill(agentName, parts[1], content);
        }
    }

    /// <summary>The message for reading a folder as if it were a file.</summary>
    public static WorkspacePathException IsFolder(string relativePath) => new($"'{relativePath}' is a folder, not a file.");

    /// <summary>The message for a file too large to read on demand.</summary>
    public static WorkspacePathException TooLargeToRead(string relativePath, long sizeBytes) =>
        new($"The file '{relativePath}' is {sizeBytes:N0} bytes; files larger than {AgentDefinitionLimits.MaxReadFileSizeBytes:N0} bytes cannot be read this way.");

    /// <summary>The folder error for a definition, skill or memory file that is too large to load.</summary>
    public static AgentDefinitionError TooLargeToLoad(string relativePath, long sizeBytes) =>
        new(relativePath, string.Empty, null, $"the file is {sizeBytes:N0} bytes; the limit is {LimitFor(relativePath):N0} bytes.");

    /// <summary>True for a top-level memory file name (<c>memory/&lt;x&gt;.md</c> lists <c>&lt;x&gt;.md</c>).</summary>
    public static bool IsMemoryFileName(string fileName) =>
        fileName.Length > 3 && fileName.EndsWith(".md", StringComparison.Ordinal) && !fileName.Contains('/', StringComparison.Ordinal);

    /// <summary>The size limit of a file of the folder, by its relative path.</summary>
    public static int LimitFor(string relativePath) => relativePath switch
    {
        AgentDefinitionParser.AgentFileName => AgentDefinitionLimits.MaxAgentFileSizeBytes,
        AgentDefinitionParser.ToolsFileName or AgentDefinitionParser.HeartbeatFileName => AgentDefinitionLimits.MaxAuxiliaryFileSizeBytes,
        _ => AgentDefinitionLimits.MaxSkillFileSizeBytes,
    };

    /// <summary>
    /// Parses an agent from its definition files and what was found in its folder; <paramref name="folderErrors"/>
    /// (problems found while reading the folder) are reported together with the definition's own.
    /// </summary>
    /// <exception cref="AgentDefinitionException">Any problem, all listed.</exception>
    public static AgentDefinition Parse(string name, AgentFiles files, IReadOnlyList<MemorySummary> memory, IReadOnlyList<SkillSource> skills, IReadOnlyList<AgentDefinitionError> folderErrors) =>
        AgentDefinitionParser.ParseWithFolderErrors(name, files, memory, skills, folderErrors.ToList());
}
