using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Azure;
using Azure.Storage.Blobs;

namespace Kestrel.Cloud.Agents.Storage.AzureStorage;

/// <summary>
/// The blob containers of the agent stores for one task hub: <c>{hub}-runs</c> (run event logs), <c>{hub}-sessions</c>,
/// <c>{hub}-approvals</c> (used approval links) and <c>{hub}-agents</c> (the agent workspace). Each container is
/// created the first time a store uses it. Share one instance per task hub: it also carries the in-process wake-ups
/// of the run event log.
/// </summary>
public sealed partial class AgentBlobStorage
{
    private readonly ConcurrentDictionary<string, Lazy<Task<BlobContainerClient>>> containers = new(StringComparer.Ordinal);

    /// <summary>Uses <paramref name="client"/>'s account for task hub <paramref name="taskHub"/>.</summary>
    /// <exception cref="ArgumentException">The task hub name is not 3-45 lowercase letters or digits.</exception>
    public AgentBlobStorage(BlobServiceClient client, string taskHub, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ValidateTaskHub(taskHub);
        this.Client = client;
        this.TaskHub = taskHub;
        this.TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The task hub the container names are derived from.</summary>
    public string TaskHub { get; }

    /// <summary>The storage account.</summary>
    public BlobServiceClient Client { get; }

    /// <summary>The clock the stores use for timestamps and waits.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>The run event log container: <c>{hub}-runs</c>.</summary>
    public string RunsContainerName => $"{this.TaskHub}-runs";

    /// <summary>The session container: <c>{hub}-sessions</c>.</summary>
    public string SessionsContainerName => $"{this.TaskHub}-sessions";

    /// <summary>The approval-link ledger container: <c>{hub}-approvals</c>.</summary>
    public string ApprovalsContainerName => $"{this.TaskHub}-approvals";

    /// <summary>The agent workspace container: <c>{hub}-agents</c>.</summary>
    public string AgentsContainerName => $"{this.TaskHub}-agents";

    /// <summary>In-process wake-ups of the run event log.</summary>
    internal RunEventSignals Signals { get; } = new();

    /// <summary>True when <paramref name="taskHub"/> is 3-45 lowercase letters or digits (the rule of the durable store).</summary>
    public static bool IsValidTaskHub(string? taskHub) => taskHub is not null && TaskHubPattern().IsMatch(taskHub);

    /// <summary>Throws <see cref="ArgumentException"/> naming the rule when <paramref name="taskHub"/> is not valid.</summary>
    public static void ValidateTaskHub(string? taskHub)
    {
        if (!IsValidTaskHub(taskHub))
        {
            throw new ArgumentException(
                $"The task hub name '{taskHub}' is not valid: use 3 to 45 lowercase letters or digits (for example 'kestrelcloud'); it prefixes the container names.",
                nameof(taskHub));
        }
    }

    /// <summary>The container <paramref name="name"/>, created (once per instance) when missing.</summary>
    public async Task<BlobContainerClient> GetContainerAsync(string name, CancellationToken cancellationToken = default)
    {
        Lazy<Task<BlobContainerClient>> lazy = this.containers.GetOrAdd(name, n => new Lazy<Task<BlobContainerClient>>(() => this.CreateAsync(n)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (lazy.Value.IsFaulted || lazy.Value.IsCanceled)
        {
            // The creation failed (storage unreachable, retries exhausted, ...): let the next call try again instead of
            // caching the failure. A caller's own cancellation leaves the creation running for the others.
            this.containers.TryRemove(new KeyValuePair<string, Lazy<Task<BlobContainerClient>>>(name, lazy));
            throw;
        }
    }

    /// <summary>
    /// A blob name for an arbitrary id: ASCII letters, digits, '-' and '_' kept, every other character written as
    /// ~XX per UTF-8 byte; ids whose escaped form would be longer than 200 characters become <c>~~</c> + a SHA-256 prefix.
    /// </summary>
    internal static string EscapeId(string id)
    {
        var sb = new StringBuilder(id.Length);
        Span<byte> bytes = stackalloc byte[4];
        for (int i = 0; i < id.Length; i++)
        {
            char c = id[i];
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            {
                sb.Append(c);
                continue;
            }

            int width = char.IsHighSurrogate(c) && i + 1 < id.Length && char.IsLowSurrogate(id[i + 1]) ? 2 : 1;
            int length = Encoding.UTF8.GetBytes(id.AsSpan(i, width), bytes);
            i += width - 1;
            foreach (byte b in bytes[..length])
            {
                sb.Append('~').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return sb.Length <= 200 ? sb.ToString() : "~~" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..40];
    }

    /// <summary>Lowercase hex of the UTF-8 bytes: a blob-safe name that sorts like the text (ordinal).</summary>
    internal static string Hex(string text) => Convert.ToHexStringLower(Encoding.UTF8.GetBytes(text));

    /// <summary>The text of a <see cref="Hex"/> name; null when it is not one.</summary>
    internal static string? FromHex(string hex)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromHexString(hex));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>True for a failed condition: 412, or 409 BlobAlreadyExists for a create.</summary>
    internal static bool IsConditionFailure(RequestFailedException ex) =>
        ex.Status == 412 || (ex.Status == 409 && string.Equals(ex.ErrorCode, "BlobAlreadyExists", StringComparison.Ordinal));

    private async Task<BlobContainerClient> CreateAsync(string name)
    {
        BlobContainerClient container = this.Client.GetBlobContainerClient(name);
        await container.CreateIfNotExistsAsync().ConfigureAwait(false);
        return container;
    }

    [GeneratedRegex("^[a-z0-9]{3,45}$")]
    private static partial Regex TaskHubPattern();
}
