using System.Globalization;
using System.Text;

namespace Kestrel.Cloud.Durable.Storage;

/// <summary>Keyset paging shared by the stores: the token encodes the last (created, id) of a page.</summary>
public static class QueryPaging
{
    /// <summary>Largest page size.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Throws when the page size is outside 1..1000.</summary>
    public static int ValidatePageSize(int pageSize) =>
        pageSize is >= 1 and <= MaxPageSize
            ? pageSize
            : throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, $"The value for pageSize must be between 1 and {MaxPageSize}.");

    /// <summary>Encodes the position after <paramref name="last"/>.</summary>
    public static string Encode(InstanceRecord last) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{last.CreatedAt.Ticks.ToString(CultureInfo.InvariantCulture)}|{last.InstanceId}"));

    /// <summary>Decodes a token; throws <see cref="ArgumentException"/> with a clear message if it is not one of ours.</summary>
    public static (DateTime? AfterCreated, string? AfterId) Decode(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return (null, null);
        }

        try
        {
            string text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            int bar = text.IndexOf('|', StringComparison.Ordinal);
            long ticks = long.Parse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture);
            return (new DateTime(ticks, DateTimeKind.Utc), text[(bar + 1)..]);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException)
        {
            throw new ArgumentException("The continuation token is not valid. Pass the token returned by the previous page unchanged, or omit it for the first page.", nameof(token), ex);
        }
    }

    /// <summary>True when the record sorts after the position.</summary>
    public static bool IsAfter(InstanceRecord r, DateTime? afterCreated, string? afterId) =>
        afterCreated is null
        || r.CreatedAt > afterCreated
        || (r.CreatedAt == afterCreated && string.CompareOrdinal(r.InstanceId, afterId) > 0);

    /// <summary>Builds a result from up to pageSize + 1 ordered records.</summary>
    public static InstanceQueryResult ToResult(List<InstanceRecord> pagePlusOne, int pageSize)
    {
        if (pagePlusOne.Count <= pageSize)
        {
            return new InstanceQueryResult(pagePlusOne, null);
        }

        var page = pagePlusOne.GetRange(0, pageSize);
        return new InstanceQueryResult(page, Encode(page[^1]));
    }

    /// <summary>True when a finished record matches a purge filter.</summary>
    public static bool MatchesPurge(PurgeInstancesFilter filter, InstanceRecord r) =>
        r.Status.IsTerminal()
        && (filter.Statuses is null || filter.Statuses.Count == 0 || filter.Statuses.Contains(r.Status))
        && (filter.CreatedFrom is null || r.CreatedAt >= filter.CreatedFrom)
        && (filter.CreatedTo is null || r.CreatedAt < filter.CreatedTo);
}
