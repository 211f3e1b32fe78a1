using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Kestrel.Cloud.Agents.Definitions;

namespace Kestrel.Cloud.Agents.Storage.AzureStorage;

/// <summary>
/// The agent workspace in the <c>{hub}-agents</c> container: the file <c>&lt;agent&gt;/&lt;path&gt;</c> of the local
/// workspace is the blob of that name. Same rules and errors as <see cref="LocalAgentWorkspace"/> (shared through
/// <see cref="AgentFolder"/>): names validated, paths confined to the agent's folder ('..', absolute paths and the like
/// refused), definition files written only by create/update after validation, AGENT.md written last so an agent exists
/// once it does. Every blob upload is atomic. Creating AGENT.md uses If-None-Match * and an update's AGENT.md write uses
/// If-Match on the ETag read, so racing writers from any process get AlreadyExists / VersionMismatch instead of
/// overwriting each other. Blobs have no links, so there is nothing like a symbolic link to escape through.
/// </summary>
public sealed class BlobAgentWorkspace : IAgentWorkspace
{
    private readonly AgentBlobStorage storage;

    /// <summary>Creates the workspace on <paramref name="storage"/>.</summary>
    public BlobAgentWorkspace(AgentBlobStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        this.storage = storage;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ListAgentNamesAsync(CancellationToken cancellationToken = default)
    {
        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        var candidates = new List<string>();
        await foreach (BlobHierarchyItem item in container.GetBlobsByHierarchyAsync(delimiter: "/", cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (item.IsPrefix && item.Prefix.TrimEnd('/') is var name && AgentName.IsValid(name))
            {
                candidates.Add(name);
            }
        }

        bool[] exists = await Task.WhenAll(candidates.Select(n => this.ExistsAsync(n, cancellationToken))).ConfigureAwait(false);
        return candidates.Where((_, i) => exists[i]).Order(StringComparer.Ordinal).ToList();
    }

    /// <inheritdoc/>
    public async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        BlobClient blob = await this.BlobAsync(name, AgentDefinitionParser.AgentFileName, cancellationToken).ConfigureAwait(false);
        Response<bool> exists = await blob.ExistsAsync(cancellationToken).ConfigureAwait(false);
        return exists.Value;
    }

    /// <inheritdoc/>
    public Task<AgentDefinition?> GetAgentAsync(string name, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        return this.LoadAsync(name, replacement: null, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<AgentDefinition> CreateAgentAsync(string name, AgentFiles files, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        ArgumentNullException.ThrowIfNull(files);
        AgentDefinitionParser.Parse(name, files);
        if (await this.ExistsAsync(name, cancellationToken).ConfigureAwait(false))
        {
            throw AgentWorkspaceException.AlreadyExists(name);
        }

        await this.WriteOrDeleteAsync(name, AgentDefinitionParser.ToolsFileName, files.ToolsMarkdown, cancellationToken).ConfigureAwait(false);
        await this.WriteOrDeleteAsync(name, AgentDefinitionParser.HeartbeatFileName, files.HeartbeatMarkdown, cancellationToken).ConfigureAwait(false);

        // AGENT.md last: the agent exists once it does. Refuse to replace one written meanwhile by another writer.
        if (!await this.TryUploadAsync(name, AgentDefinitionParser.AgentFileName, files.AgentMarkdown, new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken).ConfigureAwait(false))
        {
            throw AgentWorkspaceException.AlreadyExists(name);
        }

        return await this.GetAgentAsync(name, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
    }

    /// <inheritdoc/>
    public async Task<AgentDefinition> UpdateAgentAsync(string name, AgentFiles files, string? expectedVersion = null, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        ArgumentNullException.ThrowIfNull(files);
        (AgentFiles Files, ETag ETag) current = await this.ReadDefinitionFilesAsync(name, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
        string currentVersion = AgentDefinitionParser.ComputeVersion(current.Files);
        if (expectedVersion is not null && expectedVersion != currentVersion)
        {
            throw AgentWorkspaceException.VersionMismatch(name, expectedVersion, currentVersion);
        }

        // Validate the new files together with the agent's skills and memory before writing anything.
        _ = await this.LoadAsync(name, files, cancellationToken).ConfigureAwait(false);
        await this.WriteOrDeleteAsync(name, AgentDefinitionParser.ToolsFileName, files.ToolsMarkdown, cancellationToken).ConfigureAwait(false);
        await this.WriteOrDeleteAsync(name, AgentDefinitionParser.HeartbeatFileName, files.HeartbeatMarkdown, cancellationToken).ConfigureAwait(false);
        if (!await this.TryUploadAsync(name, AgentDefinitionParser.AgentFileName, files.AgentMarkdown, new BlobRequestConditions { IfMatch = current.ETag }, cancellationToken).ConfigureAwait(false))
        {
            (AgentFiles Files, ETag ETag) now = await this.ReadDefinitionFilesAsync(name, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
            throw AgentWorkspaceException.VersionMismatch(name, expectedVersion ?? currentVersion, AgentDefinitionParser.ComputeVersion(now.Files));
        }

        return await this.GetAgentAsync(name, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteAgentAsync(string name, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        var names = new List<string>();
        await foreach (BlobItem item in container.GetBlobsAsync(prefix: name + "/", cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            names.Add(item.Name);
        }

        if (names.Count == 0)
        {
            return false;
        }

        // AGENT.md first, so the agent disappears at once; then the rest.
        string agentFile = $"{name}/{AgentDefinitionParser.AgentFileName}";
        await container.DeleteBlobIfExistsAsync(agentFile, cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (string blob in names.Where(n => n != agentFile))
        {
            await container.DeleteBlobIfExistsAsync(blob, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <inheritdoc/>
    public async Task<string?> ReadFileAsync(string name, string relativePath, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        string relative = AgentFolder.NormalizeRelativePath(relativePath);
        if (relative == ".")
        {
            throw AgentFolder.IsFolder(relative);
        }

        BlobClient blob = await this.BlobAsync(name, relative, cancellationToken).ConfigureAwait(false);
        long size;
        try
        {
            Response<BlobProperties> properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            size = properties.Value.ContentLength;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            if (await this.IsFolderAsync(name, relative, cancellationToken).ConfigureAwait(false))
            {
                throw AgentFolder.IsFolder(relative);
            }

            return null;
        }

        if (size > AgentDefinitionLimits.MaxReadFileSizeBytes)
        {
            throw AgentFolder.TooLargeToRead(relative, size);
        }

        return await DownloadTextAsync(blob, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task WriteFileAsync(string name, string relativePath, string content, CancellationToken cancellationToken = default)
    {
        AgentName.Validate(name);
        ArgumentNullException.ThrowIfNull(content);
        string relative = AgentFolder.NormalizeRelativePath(relativePath);
        AgentFolder.CheckWritable(name, relative, content);
        if (!await this.ExistsAsync(name, cancellationToken).ConfigureAwait(false))
        {
            throw AgentWorkspaceException.NotFound(name);
        }

        if (await this.IsFolderAsync(name, relative, cancellationToken).ConfigureAwait(false))
        {
            throw AgentFolder.IsFolder(relative);
        }

        await this.TryUploadAsync(name, relative, content, conditions: null, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string?> DownloadTextAsync(BlobClient blob, CancellationToken cancellationToken)
    {
        try
        {
            Response<BlobDownloadResult> response = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return DecodeUtf8(response.Value.Content.ToMemory().Span);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    // Like File.ReadAllText with UTF-8: a BOM is skipped.
    private static string DecodeUtf8(ReadOnlySpan<byte> bytes) =>
        Encoding.UTF8.GetString(bytes.StartsWith(Encoding.UTF8.Preamble) ? bytes[Encoding.UTF8.Preamble.Length..] : bytes);

    private async Task<bool> IsFolderAsync(string name, string relative, CancellationToken cancellationToken)
    {
        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        await foreach (Page<BlobItem> page in container.GetBlobsAsync(prefix: $"{name}/{relative}/", cancellationToken: cancellationToken).AsPages(pageSizeHint: 1).ConfigureAwait(false))
        {
            return page.Values.Count > 0;
        }

        return false;
    }

    private async Task<bool> TryUploadAsync(string name, string relative, string content, BlobRequestConditions? conditions, CancellationToken cancellationToken)
    {
        BlobClient blob = await this.BlobAsync(name, relative, cancellationToken).ConfigureAwait(false);
        try
        {
            await blob.UploadAsync(
                new BinaryData(new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(content)),
                new BlobUploadOptions { Conditions = conditions, HttpHeaders = new BlobHttpHeaders { ContentType = "text/markdown; charset=utf-8" } },
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (conditions is not null && (AgentBlobStorage.IsConditionFailure(ex) || ex.Status == 404))
        {
            return false;
        }
    }

    private async Task WriteOrDeleteAsync(string name, string relative, string? content, CancellationToken cancellationToken)
    {
        if (content is null)
        {
            BlobClient blob = await this.BlobAsync(name, relative, cancellationToken).ConfigureAwait(false);
            await blob.DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await this.TryUploadAsync(name, relative, content, conditions: null, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<(AgentFiles Files, ETag ETag)?> ReadDefinitionFilesAsync(string name, CancellationToken cancellationToken)
    {
        var errors = new List<AgentDefinitionError>();
        (string? agent, ETag etag) = await this.ReadBoundedAsync(name, AgentDefinitionParser.AgentFileName, errors, cancellationToken).ConfigureAwait(false);
        if (agent is null && errors.Count == 0)
        {
            return null;
        }

        (string? tools, _) = await this.ReadBoundedAsync(name, AgentDefinitionParser.ToolsFileName, errors, cancellationToken).ConfigureAwait(false);
        (string? heartbeat, _) = await this.ReadBoundedAsync(name, AgentDefinitionParser.HeartbeatFileName, errors, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            throw new AgentDefinitionException(name, errors);
        }

        return (new AgentFiles(agent!, tools, heartbeat), etag);
    }

    private async Task<AgentDefinition?> LoadAsync(string name, AgentFiles? replacement, CancellationToken cancellationToken)
    {
        (AgentFiles Files, ETag ETag)? read = await this.ReadDefinitionFilesAsync(name, cancellationToken).ConfigureAwait(false);
        if (read is null)
        {
            return null;
        }

        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        var errors = new List<AgentDefinitionError>();

        // Memory: the top-level *.md files of memory/, sorted by name.
        string memoryPrefix = $"{name}/{AgentDefinitionParser.MemoryFolder}/";
        var memoryFiles = new List<(string Relative, long Size)>();
        await foreach (BlobHierarchyItem item in container.GetBlobsByHierarchyAsync(delimiter: "/", prefix: memoryPrefix, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (item.IsBlob && AgentFolder.IsMemoryFileName(item.Blob.Name[memoryPrefix.Length..]))
            {
                memoryFiles.Add((item.Blob.Name[(name.Length + 1)..], item.Blob.Properties.ContentLength ?? 0));
            }
        }

        var memory = new List<MemorySummary>();
        foreach ((string relative, long size) in memoryFiles.OrderBy(f => f.Relative, StringComparer.Ordinal).Take(AgentDefinitionLimits.MaxMemoryFiles))
        {
            BlobClient blob = container.GetBlobClient($"{name}/{relative}");
            try
            {
                Response<BlobDownloadResult> head = await blob.DownloadContentAsync(
                    new BlobDownloadOptions { Range = new HttpRange(0, AgentDefinitionLimits.MemoryHeadBytes) }, cancellationToken).ConfigureAwait(false);
                memory.Add(MemorySummary.FromHead(relative, Tools.ToolOutput.DecodeUtf8Prefix(head.Value.Content.ToMemory().Span), size));
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 416)
            {
                // Deleted since the listing (404), or empty (416: no byte in range).
                if (ex.Status == 416)
                {
                    memory.Add(MemorySummary.FromHead(relative, string.Empty, 0));
                }
            }
        }

        // Skills: skills/<folder>/SKILL.md, folders sorted by name.
        string skillsPrefix = $"{name}/{AgentDefinitionParser.SkillsFolder}/";
        var folders = new List<string>();
        await foreach (BlobHierarchyItem item in container.GetBlobsByHierarchyAsync(delimiter: "/", prefix: skillsPrefix, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (item.IsPrefix)
            {
                folders.Add(item.Prefix[skillsPrefix.Length..].TrimEnd('/'));
            }
        }

        var skills = new List<SkillSource>();
        foreach (string folder in folders.Order(StringComparer.Ordinal).Take(AgentDefinitionLimits.MaxSkills))
        {
            string relative = $"{AgentDefinitionParser.SkillsFolder}/{folder}/{AgentDefinitionParser.SkillFileName}";
            (string? text, _) = await this.ReadBoundedAsync(name, relative, errors, cancellationToken).ConfigureAwait(false);
            skills.Add(new SkillSource(folder, text));
        }

        return AgentFolder.Parse(name, replacement ?? read.Value.Files, memory, skills, errors);
    }

    private async Task<(string? Text, ETag ETag)> ReadBoundedAsync(string name, string relative, List<AgentDefinitionError> errors, CancellationToken cancellationToken)
    {
        BlobClient blob = await this.BlobAsync(name, relative, cancellationToken).ConfigureAwait(false);
        try
        {
            // The size is checked from the first byte range before the whole file is fetched.
            Response<BlobDownloadResult> response = await blob.DownloadContentAsync(
                new BlobDownloadOptions { Range = new HttpRange(0, AgentDefinitionLimits.MaxReadFileSizeBytes + 1) }, cancellationToken).ConfigureAwait(false);
            long size = response.Value.Details.ContentRange is { } range && range.LastIndexOf('/') is int slash and > 0
                && long.TryParse(range[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long total)
                ? total
                : response.Value.Content.ToMemory().Length;
            if (size > AgentDefinitionLimits.MaxReadFileSizeBytes)
            {
                errors.Add(AgentFolder.TooLargeToLoad(relative, size));
                return (null, response.Value.Details.ETag);
            }

            return (DecodeUtf8(response.Value.Content.ToMemory().Span), response.Value.Details.ETag);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return (null, default);
        }
        catch (RequestFailedException ex) when (ex.Status == 416)
        {
            // An empty file: no byte lies in the range.
            Response<BlobDownloadResult> whole = await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return (string.Empty, whole.Value.Details.ETag);
        }
    }

    private Task<BlobContainerClient> ContainerAsync(CancellationToken cancellationToken) =>
        this.storage.GetContainerAsync(this.storage.AgentsContainerName, cancellationToken);

    private async Task<BlobClient> BlobAsync(string name, string relative, CancellationToken cancellationToken)
    {
        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        return container.GetBlobClient($"{name}/{relative}");
    }
}
