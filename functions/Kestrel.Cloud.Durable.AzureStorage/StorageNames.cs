using System.Security.Cryptography;
using System.Text;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>Container, queue and blob names of one task hub.</summary>
internal sealed class StorageNames
{
    /// <summary>Prefix of instance blob names that are hashes (ids too long to escape into a blob name).</summary>
    public const string HashedPrefix = "~~";

    private const int MaxEscapedLength = 1000;

    public StorageNames(string taskHubName)
    {
        this.InstancesContainer = $"{taskHubName}-instances";
        this.HistoryContainer = $"{taskHubName}-history";
        this.PayloadsContainer = $"{taskHubName}-payloads";
        this.ControlQueue = $"{taskHubName}-control";
        this.ActivityQueue = $"{taskHubName}-activities";
        this.PoisonQueue = $"{taskHubName}-poison";
    }

    public string InstancesContainer { get; }

    public string HistoryContainer { get; }

    public string PayloadsContainer { get; }

    public string ControlQueue { get; }

    public string ActivityQueue { get; }

    public string PoisonQueue { get; }

    /// <summary>
    /// The instance blob name: the id with every character other than ASCII letters, digits, '-' and '_'
    /// written as ~XX per UTF-8 byte. The mapping works character by character, so an id prefix maps to a
    /// blob-name prefix (prefix queries list only matching blobs). Ids whose escaped form is too long for a
    /// blob name are stored under a hash, in the "~~" folder.
    /// </summary>
    public static string InstanceBlob(string instanceId)
    {
        string escaped = Escape(instanceId);
        return escaped.Length <= MaxEscapedLength ? escaped : HashedPrefix + Key(instanceId);
    }

    /// <summary>The escaped form of an id prefix, for listing.</summary>
    public static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length);
        Span<byte> bytes = stackalloc byte[4];
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_')
            {
                sb.Append(c);
                continue;
            }

            int width = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            int length = Encoding.UTF8.GetBytes(text.AsSpan(i, width), bytes);
            i += width - 1;
            foreach (byte b in bytes[..length])
            {
                sb.Append('~').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    /// <summary>A short fixed-length key of an instance id: the folder of its history and payload blobs.</summary>
    public static string Key(string instanceId) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(instanceId)))[..32].ToLowerInvariant();

    /// <summary>The folder of one incarnation's history segments (history container) and payloads (payloads container).</summary>
    public static string IncarnationFolder(string instanceId, string incarnation) => $"{Key(instanceId)}/{incarnation}/";

    /// <summary>A new history segment blob name.</summary>
    public static string NewHistorySegment(string instanceId, string incarnation) =>
        $"{IncarnationFolder(instanceId, incarnation)}{Guid.NewGuid():N}.jsonl";

    /// <summary>The payload blob of a queue message.</summary>
    public static string PayloadBlob(string instanceId, string incarnation, string messageId) =>
        $"{IncarnationFolder(instanceId, incarnation)}{messageId}.json";

    /// <summary>The lease (lock on the store's clock) of an activity message.</summary>
    public static string LeaseBlob(string instanceId, string incarnation, string messageId) =>
        $"{IncarnationFolder(instanceId, incarnation)}{messageId}.lease.json";
}
