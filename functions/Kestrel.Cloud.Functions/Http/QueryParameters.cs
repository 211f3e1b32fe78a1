using System.Globalization;
using Kestrel.Cloud.Durable;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Kestrel.Cloud.Functions.Http;

/// <summary>Reads query parameters strictly: a bad value is a 400 naming the parameter, the value, the rule and an example.</summary>
public static class QueryParameters
{
    private const int MaxEchoLength = 64;

    /// <summary>The single value of a parameter, or null when absent or empty.</summary>
    public static string? GetString(IQueryCollection query, string name, int maxLength = 1024)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!query.TryGetValue(name, out StringValues values) || StringValues.IsNullOrEmpty(values))
        {
            return null;
        }

        if (values.Count > 1)
        {
            throw ApiProblemException.InvalidQuery(name, $"The query parameter '{name}' is given {values.Count} times; give it once.");
        }

        string value = values[0]!;
        if (value.Length > maxLength)
        {
            throw ApiProblemException.InvalidQuery(name, $"The query parameter '{name}' is {value.Length} characters long; the limit is {maxLength}.");
        }

        return value.Length == 0 ? null : value;
    }

    /// <summary>A boolean (<c>true</c>/<c>false</c>, case-insensitive).</summary>
    public static bool GetBoolean(IQueryCollection query, string name, bool defaultValue)
    {
        string? raw = GetString(query, name);
        if (raw is null)
        {
            return defaultValue;
        }

        return bool.TryParse(raw.Trim(), out bool value)
            ? value
            : throw ApiProblemException.InvalidQuery(name, $"The query parameter '{name}' is '{Echo(raw)}'; it must be true or false, for example ?{name}=true.");
    }

    /// <summary>An integer between <paramref name="min"/> and <paramref name="max"/>.</summary>
    public static int GetInt32(IQueryCollection query, string name, int defaultValue, int min, int max)
    {
        string? raw = GetString(query, name);
        if (raw is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(raw.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw ApiProblemException.InvalidQuery(
                name,
                $"The query parameter '{name}' is '{Echo(raw)}'; it must be a whole number from {min} to {max}, for example ?{name}={Math.Min(max, Math.Max(min, 10))}.");
        }

        return value;
    }

    /// <summary>An ISO 8601 timestamp with a time zone (<c>2026-01-31T12:00:00Z</c>), returned in UTC.</summary>
    public static DateTimeOffset? GetTimestamp(IQueryCollection query, string name)
    {
        string? raw = GetString(query, name);
        if (raw is null)
        {
            return null;
        }

        if (!DateTimeOffset.TryParse(raw.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset value))
        {
            throw ApiProblemException.InvalidQuery(
                name,
                $"The query parameter '{name}' is '{Echo(raw)}'; it must be an ISO 8601 timestamp such as 2026-01-31T12:00:00Z (URL-encode '+' in an offset as %2B).");
        }

        return value.ToUniversalTime();
    }

    /// <summary>A comma-separated list of runtime statuses (case-insensitive), or null when absent.</summary>
    public static IReadOnlyCollection<OrchestrationRuntimeStatus>? GetStatuses(IQueryCollection query, string name)
    {
        string? raw = GetString(query, name);
        if (raw is null)
        {
            return null;
        }

        var statuses = new HashSet<OrchestrationRuntimeStatus>();
        foreach (string part in raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Enum.TryParse(part, ignoreCase: true, out OrchestrationRuntimeStatus status) || !Enum.IsDefined(status) || int.TryParse(part, out _))
            {
                throw ApiProblemException.InvalidQuery(
                    name,
                    $"The query parameter '{name}' contains '{Echo(part)}', which is not a runtime status. Use a comma-separated list of {string.Join(", ", Enum.GetNames<OrchestrationRuntimeStatus>())}, for example ?{name}=Running,Pending.");
            }

            statuses.Add(status);
        }

        return statuses.Count == 0 ? null : statuses;
    }

    /// <summary>A value shortened for echoing back in an error.</summary>
    public static string Echo(string value)
    {
        string oneLine = new(value.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return oneLine.Length <= MaxEchoLength ? oneLine : oneLine[..MaxEchoLength] + "…";
    }
}
