using System.Text;
using Kestrel.Cloud.Agents.Tools.Files;

namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// An agent workspace in a local folder: <c>&lt;root&gt;/&lt;agent&gt;/AGENT.md</c> and so on. Each file is written
/// atomically (temp file + rename); an agent exists once its AGENT.md exists, which is written last on create.
/// Writes from this process are serialised; every path is confined to the agent's folder (links included).
/// </summary>
public sealed class LocalAgentWorkspace : IAgentWorkspace
{
    /// <summary>The folder inside an agent's folder that the file tools and the shell work in.</summary>
    public const string FilesFolder = AgentFolder.FilesFolder;

    private readonly SemaphoreSlim writeGate = new(1, 1);

    /// <summary>Uses (and creates when missing) <paramref name="rootDirectory"/>.</summary>
    public LocalAgentWorkspace(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        this.RootDirectory = Path.GetFullPath(rootDirectory);
        Directory.CreateDirectory(this.RootDirectory);
    }

    /// <summary>The workspace folder.</summary>
    public string RootDirectory { get; }

    /// <summary>The folder of agent <paramref name="name"/> (whether or not it exists).</summary>
    public string GetAgentDirectory(string name)
    {
        AgentName.Validate(name);
        return Path.Join(this.RootDirectory, name);
    }

    /// <summary>
    /// The folder the file tools and the shell of agent <paramref name="name"/> are confined to:
    /// <c>&lt;agent&gt;/files</c>, created when missing. It is separate from the definition files so that an
    /// agent cannot rewrite its own prompt or approval policy with its file tools.
    /// </summary>
    public string GetFilesDirectory(string name)
    {
        string path = Path.Join(this.GetAgentDirectory(name), FilesFolder);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListAgentNamesAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> names = Directory.EnumerateDirectories(this.RootDirectory)
            .Select(Path.GetFileName)
            .Where(n => AgentName.IsValid(n) && File.Exists(Path.Join(this.RootDirectory, n, AgentDefinitionParser.AgentFileName)))
            .Select(n => n!)
            .Order(StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(names);
    }

    /// <inheritdoc/>
    public Task<bool> ExistsAsync(string name, CancellationToken cancellationToken = default)
        => Task.FromResult(File.Exists(Path.Join(this.GetAgentDirectory(name), AgentDefinitionParser.AgentFileName)));

    /// <inheritdoc/>
    public Task<AgentDefinition?> GetAgentAsync(string name, CancellationToken cancellationToken = default)
        => this.LoadAsync(name, replacement: null, cancellationToken);

    /// <inheritdoc/>
    public async Task<AgentDefinition> CreateAgentAsync(string name, AgentFiles files, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        ArgumentNullException.ThrowIfNull(files);
        AgentDefinitionParser.Parse(name, files);
        await this.writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (await this.ExistsAsync(name, cancellationToken).ConfigureAwait(false))
            {
                throw AgentWorkspaceException.AlreadyExists(name);
            }

            string directory = this.GetAgentDirectory(name);
            Directory.CreateDirectory(directory);
            await this.WriteDefinitionFilesAsync(directory, files, createAgentFile: true, name, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            this.writeGate.Release();
        }

        return await this.GetAgentAsync(name, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
    }

    /// <inheritdoc/>
    public async Task<AgentDefinition> UpdateAgentAsync(string name, AgentFiles files, string? expectedVersion = null, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        ArgumentNullException.ThrowIfNull(files);
        await this.writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            AgentFiles current = await this.ReadDefinitionFilesAsync(name, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
            string currentVersion = AgentDefinitionParser.ComputeVersion(current);
            if (expectedVersion is not null && expectedVersion != currentVersion)
            {
                throw AgentWorkspaceException.VersionMismatch(name, expectedVersion, currentVersion);
            }

            // Validate the new files together with the agent's skills and memory before writing anything.
            _ = await this.LoadAsync(name, files, cancellationToken).ConfigureAwait(false);
            await this.WriteDefinitionFilesAsync(this.GetAgentDirectory(name), files, createAgentFile: false, name, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            this.writeGate.Release();
        }

        return await this.GetAgentAsync(name, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteAgentAsync(string name, CancellationToken cancellationToken = default)
    {
        string directory = this.GetAgentDirectory(name);
        await this.writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!Directory.Exists(directory))
            {
                return false;
            }

            // Rename first so the agent disappears at once, then remove the contents.
            string trash = Path.Join(this.RootDirectory, $".deleted-{name}-{Guid.NewGuid():N}");
            Directory.Move(directory, trash);
            Directory.Delete(trash, recursive: true);
            return true;
        }
        finally
        {
            this.writeGate.Release();
        }
    }

    /// <inheritdoc/>
    public async Task<string?> ReadFileAsync(string name, string relativePath, CancellationToken cancellationToken = default)
    {
        var guard = new WorkspacePathGuard(this.GetAgentDirectory(name));
        WorkspacePath path = guard.Resolve(relativePath);
        if (Directory.Exists(path.FullPath))
        {
            throw AgentFolder.IsFolder(path.RelativePath);
        }

        if (!File.Exists(path.FullPath))
        {
            return null;
        }

        long size = new FileInfo(path.FullPath).Length;
        if (size > AgentDefinitionLimits.MaxReadFileSizeBytes)
        {
            throw AgentFolder.TooLargeToRead(path.RelativePath, size);
        }

        return await File.ReadAllTextAsync(path.FullPath, Encoding.UTF8, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task WriteFileAsync(string name, string relativePath, string content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var guard = new WorkspacePathGuard(this.GetAgentDirectory(name));
        WorkspacePath path = guard.Resolve(relativePath);
        AgentFolder.CheckWritable(name, guard.ToRelative(path.FullPath), content);

        await this.writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!await this.ExistsAsync(name, cancellationToken).ConfigureAwait(false))
            {
                throw AgentWorkspaceException.NotFound(name);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path.FullPath)!);
            await AtomicFile.WriteAllTextAsync(path.FullPath, content, overwrite: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            this.writeGate.Release();
        }
    }

    private async Task WriteDefinitionFilesAsync(string directory, AgentFiles files, bool createAgentFile, string name, CancellationToken cancellationToken)
    {
        await WriteOrDeleteAsync(Path.Join(directory, AgentDefinitionParser.ToolsFileName), files.ToolsMarkdown, cancellationToken).ConfigureAwait(false);
        await WriteOrDeleteAsync(Path.Join(directory, AgentDefinitionParser.HeartbeatFileName), files.HeartbeatMarkdown, cancellationToken).ConfigureAwait(false);
        try
        {
            // AGENT.md last: the agent exists once it does. On create, refuse to replace one written meanwhile by another process.
            await AtomicFile.WriteAllTextAsync(Path.Join(directory, AgentDefinitionParser.AgentFileName), files.AgentMarkdown, overwrite: !createAgentFile, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException) when (createAgentFile && File.Exists(Path.Join(directory, AgentDefinitionParser.AgentFileName)))
        {
            throw AgentWorkspaceException.AlreadyExists(name);
        }
    }

    private static async Task WriteOrDeleteAsync(string path, string? content, CancellationToken cancellationToken)
    {
        if (content is null)
        {
            File.Delete(path);
        }
        else
        {
            await AtomicFile.WriteAllTextAsync(path, content, overwrite: true, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<AgentFiles?> ReadDefinitionFilesAsync(string name, CancellationToken cancellationToken)
        => AgentFolder.ReadDefinitionFilesAsync(name, new FolderSource(new WorkspacePathGuard(this.GetAgentDirectory(name))), cancellationToken);

    private Task<AgentDefinition?> LoadAsync(string name, AgentFiles? replacement, CancellationToken cancellationToken)
        => AgentFolder.LoadAsync(name, new FolderSource(new WorkspacePathGuard(this.GetAgentDirectory(name))), replacement, cancellationToken);

    /// <summary>An agent's local folder for <see cref="AgentFolder"/>: every path resolved by the guard (links included).</summary>
    private sealed class FolderSource(WorkspacePathGuard guard) : IAgentFolderSource
    {
        public async Task<AgentFolderFile?> ReadFileAsync(string relativePath, int maxBytes, CancellationToken cancellationToken)
        {
            WorkspacePath path = guard.Resolve(relativePath);
            if (!File.Exists(path.FullPath))
            {
                return null;
            }

            long size = new FileInfo(path.FullPath).Length;
            return size > maxBytes
                ? new AgentFolderFile(null, size)
                : new AgentFolderFile(await File.ReadAllTextAsync(path.FullPath, Encoding.UTF8, cancellationToken).ConfigureAwait(false), size);
        }

        public async Task<AgentFolderHead?> ReadHeadAsync(string relativePath, int maxBytes, CancellationToken cancellationToken)
        {
            WorkspacePath path = guard.Resolve(relativePath);
            var stream = new FileStream(path.FullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 4096, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                byte[] buffer = new byte[maxBytes];
                int read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                return new AgentFolderHead(buffer.AsMemory(0, read), stream.Length);
            }
        }

        public Task<IReadOnlyList<string>> ListMemoryFileNamesAsync(CancellationToken cancellationToken)
        {
            string directory = guard.Resolve(AgentDefinitionParser.MemoryFolder).FullPath;
            IReadOnlyList<string> names = Directory.Exists(directory)
                ? Directory.EnumerateFiles(directory, "*.md").Select(f => Path.GetFileName(f)).ToList()
                : Array.Empty<string>();
            return Task.FromResult(names);
        }

        public Task<IReadOnlyList<string>> ListSkillFoldersAsync(CancellationToken cancellationToken)
        {
            string directory = guard.Resolve(AgentDefinitionParser.SkillsFolder).FullPath;
            IReadOnlyList<string> names = Directory.Exists(directory)
                ? Directory.EnumerateDirectories(directory).Select(d => Path.GetFileName(d)).ToList()
                : Array.Empty<string>();
            return Task.FromResult(names);
        }
    }
}
