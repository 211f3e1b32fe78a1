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
        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        var source = new FolderSource(container, name);
        AgentFiles current = await AgentFolder.ReadDefinitionFilesAsync(name, source, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
        ETag currentETag = source.AgentFileETag;
        string currentVersion = AgentDefinitionParser.ComputeVersion(current);
        if (expectedVersion is not null && expectedVersion != currentVersion)
        {
            throw AgentWorkspaceException.VersionMismatch(name, expectedVersion, currentVersion);
        }

        // Validate the new files together with the agent's skills and memory before writing anything.
        _ = await this.LoadAsync(name, files, cancellationToken).ConfigureAwait(false);
        await this.WriteOrDeleteAsync(name, AgentDefinitionParser.ToolsFileName, files.ToolsMarkdown, cancellationToken).ConfigureAwait(false);
        await this.WriteOrDeleteAsync(name, AgentDefinitionParser.HeartbeatFileName, files.HeartbeatMarkdown, cancellationToken).ConfigureAwait(false);
        if (!await this.TryUploadAsync(name, AgentDefinitionParser.AgentFileName, files.AgentMarkdown, new BlobRequestConditions { IfMatch = currentETag }, cancellationToken).ConfigureAwait(false))
        {
            AgentFiles now = await AgentFolder.ReadDefinitionFilesAsync(name, new FolderSource(container, name), cancellationToken).ConfigureAwait(false)
                ?? throw AgentWorkspaceException.NotFound(name);
            throw AgentWorkspaceException.VersionMismatch(name, expectedVersion ?? currentVersion, AgentDefinitionParser.ComputeVersion(now));
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

        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        AgentFolderFile? file = await new FolderSource(container, name).ReadFileAsync(relative, AgentDefinitionLimits.MaxReadFileSizeBytes, cancellationToken).ConfigureAwait(false);
        if (file is null)
        {
            return await this.IsFolderAsync(name, relative, cancellationToken).ConfigureAwait(false) ? throw AgentFolder.IsFolder(relative) : null;
        }

        return file.Text ?? throw AgentFolder.TooLargeToRead(relative, file.SizeBytes);
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
                new BlobUploadOptions { Conditions = conditions, HttpHeaders = new BlobHttpHeaders { ContentType = relative.EndsWith(".md", StringComparison.OrdinalIgnoreCase) ? "text/markdown; charset=utf-8" : "text/plain; charset=utf-8" } },
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

    private async Task<AgentDefinition?> LoadAsync(string name, AgentFiles? replacement, CancellationToken cancellationToken)
    {
        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        return await AgentFolder.LoadAsync(name, new FolderSource(container, name), replacement, cancellationToken).ConfigureAwait(false);
    }

    private Task<BlobContainerClient> ContainerAsync(CancellationToken cancellationToken) =>
        this.storage.GetContainerAsync(this.storage.AgentsContainerName, cancellationToken);

    private async Task<BlobClient> BlobAsync(string name, string relative, CancellationToken cancellationToken)
    {
        BlobContainerClient container = await this.ContainerAsync(cancellationToken).ConfigureAwait(false);
        return container.GetBlobClient($"{name}/{relative}");
    }

    /// <summary>An agent's blobs for <see cref="AgentFolder"/>; remembers the ETag of the AGENT.md it read (for updates).</summary>
    private sealed class FolderSource(BlobContainerClient container, string name) : IAgentFolderSource
    {
        public ETag AgentFileETag { get; private set; }

        public async Task<AgentFolderFile?> ReadFileAsync(string relativePath, int maxBytes, CancellationToken cancellationToken)
        {
            BlobClient blob = container.GetBlobClient($"{name}/{relativePath}");
            try
            {
                // One request: the first maxBytes + 1 bytes tell whether the file is too large, and the range header its size.
                Response<BlobDownloadResult> response = await blob.DownloadContentAsync(
                    new BlobDownloadOptions { Range = new HttpRange(0, maxBytes + 1L) }, cancellationToken).ConfigureAwait(false);
                this.Remember(relativePath, response.Value.Details.ETag);
                ReadOnlyMemory<byte> content = response.Value.Content.ToMemory();
                long size = TotalSize(response.Value.Details.ContentRange) ?? content.Length;
                return size > maxBytes ? new AgentFolderFile(null, size) : new AgentFolderFile(DecodeUtf8(content.Span), size);
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                return null;
            }
            catch (RequestFailedException ex) when (ex.Status == 416)
            {
                // An empty blob: no byte lies in the range.
                Response<BlobProperties> properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                this.Remember(relativePath, properties.Value.ETag);
                return new AgentFolderFile(string.Empty, 0);
            }
        }

        public async Task<AgentFolderHead?> ReadHeadAsync(string relativePath, int maxBytes, CancellationToken cancellationToken)
        {
            BlobClient blob = container.GetBlobClient($"{name}/{relativePath}");
            try
            {
                Response<BlobDownloadResult> response = await blob.DownloadContentAsync(
                    new BlobDownloadOptions { Range = new HttpRange(0, maxBytes) }, cancellationToken).ConfigureAwait(false);
                ReadOnlyMemory<byte> content = response.Value.Content.ToMemory();
                return new AgentFolderHead(content, TotalSize(response.Value.Details.ContentRange) ?? content.Length);
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                return null;
            }
            catch (RequestFailedException ex) when (ex.Status == 416)
            {
                return new AgentFolderHead(ReadOnlyMemory<byte>.Empty, 0);
            }
        }

        public Task<IReadOnlyList<string>> ListMemoryFileNamesAsync(CancellationToken cancellationToken) =>
            this.ListAsync($"{name}/{AgentDefinitionParser.MemoryFolder}/", prefixes: false, cancellationToken);

        public Task<IReadOnlyList<string>> ListSkillFoldersAsync(CancellationToken cancellationToken) =>
            this.ListAsync($"{name}/{AgentDefinitionParser.SkillsFolder}/", prefixes: true, cancellationToken);

        private static long? TotalSize(string? contentRange) =>
            contentRange is not null && contentRange.LastIndexOf('/') is int slash and > 0
            && long.TryParse(contentRange[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long total)
                ? total
                : null;

        private void Remember(string relativePath, ETag etag)
        {
            if (relativePath == AgentDefinitionParser.AgentFileName)
            {
                this.AgentFileETag = etag;
            }
        }

        private async Task<IReadOnlyList<string>> ListAsync(string prefix, bool prefixes, CancellationToken cancellationToken)
        {
            var names = new List<string>();
            await foreach (BlobHierarchyItem item in container.GetBlobsByHierarchyAsync(delimiter: "/", prefix: prefix, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (prefixes && item.IsPrefix)
                {
                    names.Add(item.Prefix[prefix.Length..].TrimEnd('/'));
                }
                else if (!prefixes && item.IsBlob)
                {
                    names.Add(item.Blob.Name[prefix.Length..]);
                }
            }

            return names;
        }
    }
}
