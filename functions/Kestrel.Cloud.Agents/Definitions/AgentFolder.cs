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
        fileName.EndsWith(".md", StringComparison.Ordinal) && !fileName.Contains('/', StringComparison.Ordinal);

    /// <summary>The size limit of a file of the folder, by its relative path.</summary>
    public static int LimitFor(string relativePath) => relativePath switch
    {
        AgentDefinitionParser.AgentFileName => AgentDefinitionLimits.MaxAgentFileSizeBytes,
        AgentDefinitionParser.ToolsFileName or AgentDefinitionParser.HeartbeatFileName => AgentDefinitionLimits.MaxAuxiliaryFileSizeBytes,
        _ => AgentDefinitionLimits.MaxSkillFileSizeBytes,
    };

    /// <summary>
    /// Reads an agent's definition files (AGENT.md, TOOLS.md, HEARTBEAT.md) through <paramref name="source"/>; null
    /// when AGENT.md does not exist. A file over <see cref="AgentDefinitionLimits.MaxReadFileSizeBytes"/> is an error.
    /// </summary>
    /// <exception cref="AgentDefinitionException">A definition file is too large.</exception>
    public static async Task<AgentFiles?> ReadDefinitionFilesAsync(string name, IAgentFolderSource source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var errors = new List<AgentDefinitionError>();
        string? agent = await ReadBoundedAsync(source, AgentDefinitionParser.AgentFileName, errors, cancellationToken).ConfigureAwait(false);
        if (agent is null && errors.Count == 0)
        {
            return null;
        }

        string? tools = await ReadBoundedAsync(source, AgentDefinitionParser.ToolsFileName, errors, cancellationToken).ConfigureAwait(false);
        string? heartbeat = await ReadBoundedAsync(source, AgentDefinitionParser.HeartbeatFileName, errors, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            throw new AgentDefinitionException(name, errors);
        }

        return new AgentFiles(agent!, tools, heartbeat);
    }

    /// <summary>
    /// Loads an agent through <paramref name="source"/>: its definition files (or <paramref name="replacement"/>, to
    /// validate an update against the folder), the summaries of the top-level <c>memory/*.md</c> files (sorted, at most
    /// <see cref="AgentDefinitionLimits.MaxMemoryFiles"/>) and <c>skills/&lt;folder&gt;/SKILL.md</c> (sorted, at most
    /// <see cref="AgentDefinitionLimits.MaxSkills"/>). Null when AGENT.md does not exist. A memory or skill path the
    /// source refuses (<see cref="WorkspacePathException"/>) becomes an error of that file.
    /// </summary>
    /// <exception cref="AgentDefinitionException">Any problem, all listed.</exception>
    public static async Task<AgentDefinition?> LoadAsync(string name, IAgentFolderSource source, AgentFiles? replacement = null, CancellationToken cancellationToken = default)
    {
        AgentFiles? files = await ReadDefinitionFilesAsync(name, source, cancellationToken).ConfigureAwait(false);
        if (files is null)
        {
            return null;
        }

        var errors = new List<AgentDefinitionError>();
        var memory = new List<MemorySummary>();
        IReadOnlyList<string> memoryFiles = await source.ListMemoryFileNamesAsync(cancellationToken).ConfigureAwait(false);
        foreach (string file in memoryFiles.Where(IsMemoryFileName).Order(StringComparer.Ordinal).Take(AgentDefinitionLimits.MaxMemoryFiles))
        {
            string relative = $"{AgentDefinitionParser.MemoryFolder}/{file}";
            try
            {
                AgentFolderHead? head = await source.ReadHeadAsync(relative, AgentDefinitionLimits.MemoryHeadBytes, cancellationToken).ConfigureAwait(false);
                if (head is not null)
                {
                    memory.Add(MemorySummary.FromHead(relative, Tools.ToolOutput.DecodeUtf8Prefix(head.Head.Span), head.SizeBytes));
                }
            }
            catch (WorkspacePathException ex)
            {
                errors.Add(new(relative, string.Empty, null, ex.Message));
            }
        }

        var skills = new List<SkillSource>();
        IReadOnlyList<string> skillFolders = await source.ListSkillFoldersAsync(cancellationToken).ConfigureAwait(false);
        foreach (string folder in skillFolders.Order(StringComparer.Ordinal).Take(AgentDefinitionLimits.MaxSkills))
        {
            string relative = $"{AgentDefinitionParser.SkillsFolder}/{folder}/{AgentDefinitionParser.SkillFileName}";
            try
            {
                skills.Add(new SkillSource(folder, await ReadBoundedAsync(source, relative, errors, cancellationToken).ConfigureAwait(false)));
            }
            catch (WorkspacePathException ex)
            {
                errors.Add(new(relative, string.Empty, null, ex.Message));
            }
        }

        return AgentDefinitionParser.ParseWithFolderErrors(name, replacement ?? files, memory, skills, errors);
    }

    private static async Task<string?> ReadBoundedAsync(IAgentFolderSource source, string relative, List<AgentDefinitionError> errors, CancellationToken cancellationToken)
    {
        AgentFolderFile? file = await source.ReadFileAsync(relative, AgentDefinitionLimits.MaxReadFileSizeBytes, cancellationToken).ConfigureAwait(false);
        if (file is null)
        {
            return null;
        }

        if (file.Text is null || file.SizeBytes > AgentDefinitionLimits.MaxReadFileSizeBytes)
        {
            errors.Add(TooLargeToLoad(relative, file.SizeBytes));
            return null;
        }

        return file.Text;
    }
}

/// <summary>
/// One agent's folder as a storage sees it, for <see cref="AgentFolder.LoadAsync"/>: the local folder and the blob
/// container each implement it. Paths are relative to the agent's folder, with '/' separators.
/// </summary>
public interface IAgentFolderSource
{
    /// <summary>
    /// Reads a whole file as UTF-8 text (a BOM is skipped); null when it does not exist. A file larger than
    /// <paramref name="maxBytes"/> is returned with its size and a null text, without reading it.
    /// </summary>
    /// <exception cref="WorkspacePathException">The path leads outside the folder.</exception>
    Task<AgentFolderFile?> ReadFileAsync(string relativePath, int maxBytes, CancellationToken cancellationToken);

    /// <summary>The first <paramref name="maxBytes"/> bytes of a file and its full size; null when it does not exist.</summary>
    /// <exception cref="WorkspacePathException">The path leads outside the folder.</exception>
    Task<AgentFolderHead?> ReadHeadAsync(string relativePath, int maxBytes, CancellationToken cancellationToken);

    /// <summary>The names of the files directly in <c>memory/</c> (not in sub-folders), in any order; empty when there is none.</summary>
    Task<IReadOnlyList<string>> ListMemoryFileNamesAsync(CancellationToken cancellationToken);

    /// <summary>The names of the folders directly in <c>skills/</c>, in any order; empty when there is none.</summary>
    Task<IReadOnlyList<string>> ListSkillFoldersAsync(CancellationToken cancellationToken);
}

/// <summary>A file read by <see cref="IAgentFolderSource.ReadFileAsync"/>: its text (null when too large to read) and size.</summary>
public sealed record AgentFolderFile(string? Text, long SizeBytes);

/// <summary>The start of a file and its full size.</summary>
public sealed record AgentFolderHead(ReadOnlyMemory<byte> Head, long SizeBytes);
