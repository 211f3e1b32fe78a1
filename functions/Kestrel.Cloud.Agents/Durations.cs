using System.Globalization;
using System.Text.RegularExpressions;

namespace Kestrel.Cloud.Agents;

/// <summary>Durations as written in AGENT.md and shown to people: <c>500ms</c>, <c>30s</c>, <c>2m</c>, <c>1h30m</c>.</summary>
public static partial class Durations
{
    /// <summary>
    /// Parses <c>[Nh][Nm][Ns]</c> (at least one part, e.g. <c>90s</c>, <c>2m</c>, <c>1m30s</c>) or <c>Nms</c>; a bare
    /// whole number means seconds. Returns false for anything else.
    /// </summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string s = text.Trim().ToLowerInvariant();
        if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds))
        {
            return TryFrom(seconds, 0, 0, 0, out value);
        }

        Match ms = Millis().Match(s);
        if (ms.Success)
        {
            return long.TryParse(ms.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long m) && TryFrom(0, 0, 0, m, out value);
        }

        Match match = Parts().Match(s);
        if (!match.Success || s.Length == 0)
        {
            return false;
        }

        long Part(int group) => match.Groups[group].Success ? long.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        try
        {
            return TryFrom(Part(3), Part(2), Part(1), 0, out value);
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>Formats a duration the way <see cref="TryParse"/> reads it: <c>60s</c> → "1m", <c>90s</c> → "1m30s".</summary>
    public static string Format(TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1) || value.Milliseconds != 0)
        {
            return $"{(long)value.TotalMilliseconds}ms";
        }

        var text = new System.Text.StringBuilder();
        long hours = (long)value.TotalHours;
        if (hours > 0)
        {
            text.Append(hours).Append('h');
        }

        if (value.Minutes > 0)
        {
            text.Append(value.Minutes).Append('m');
        }

        if (value.Seconds > 0)
        {
            text.Append(value.Seconds).Append('s');
        }

        return text.ToString();
    }

    private static bool TryFrom(long seconds, long minutes, long hours, long millis, out TimeSpan value)
    {
        value = default;
        if (seconds > 10_000_000 || minutes > 10_000_000 || hours > 10_000_000 || millis > 10_000_000_000)
        {
            return false;
        }

        value = TimeSpan.FromHours(hours) + TimeSpan.FromMinutes(minutes) + TimeSpan.FromSeconds(seconds) + TimeSpan.FromMilliseconds(millis);
        return true;
    }

    [GeneratedRegex("^([0-9]{1,12})ms$")]
    private static partial Regex Millis();

    [GeneratedRegex("^(?=[0-9])(?:([0-9]{1,9})h)?(?:([0-9]{1,9})m)?(?:([0-9]{1,9})s)?$")]
    private static partial Regex Parts();
}
