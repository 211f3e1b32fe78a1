using System.Globalization;
using System.Net;

namespace Kestrel.Cloud.Agents.Tools.Http;

/// <summary>
/// Reads host names that are IPv4 addresses in disguise, the way browsers and many resolvers do (the WHATWG URL
/// IPv4 parser): 1-4 dot-separated parts, each decimal, octal (leading 0) or hex (0x); the last part fills the
/// remaining bytes. So "2130706433", "0x7f.0.0.1", "0177.0.0.1", "127.1" and "0x7f000001" are all 127.0.0.1.
/// </summary>
public static class NumericHost
{
    /// <summary>What a host name turned out to be.</summary>
    public enum Kind
    {
        /// <summary>A name to resolve with DNS.</summary>
        Name,

        /// <summary>An IPv4 address spelled in one of the numeric forms.</summary>
        IPv4,

        /// <summary>Looks numeric (its last part is a number) but is not a valid address, e.g. "1.2.3.256" or "0x7g.0.0.1".</summary>
        Invalid,
    }

    /// <summary>Classifies <paramref name="host"/>; for <see cref="Kind.IPv4"/>, <paramref name="address"/> is the address.</summary>
    public static Kind Parse(string host, out IPAddress? address)
    {
        address = null;
        string h = host.EndsWith('.') && host.Length > 1 ? host[..^1] : host;
        string[] parts = h.Split('.');
        if (!IsNumberLike(parts[^1]))
        {
            return Kind.Name;
        }

        if (parts.Length > 4)
        {
            return Kind.Invalid;
        }

        var numbers = new ulong[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!TryParsePart(parts[i], out numbers[i]))
            {
                return Kind.Invalid;
            }
        }

        for (int i = 0; i < numbers.Length - 1; i++)
        {
            if (numbers[i] > 255)
            {
                return Kind.Invalid;
            }
        }

        ulong last = numbers[^1];
        int remainingBytes = 5 - numbers.Length;
        if (last >= 1UL << (8 * remainingBytes))
        {
            return Kind.Invalid;
        }

        ulong value = last;
        for (int i = 0; i < numbers.Length - 1; i++)
        {
            value += numbers[i] << (8 * (3 - i));
        }

        address = new IPAddress(new[] { (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value });
        return Kind.IPv4;
    }

    private static bool IsNumberLike(string part)
    {
        if (part.Length == 0)
        {
            return false;
        }

        if (part.All(char.IsAsciiDigit))
        {
            return true;
        }

        return part.Length >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X') && part[2..].All(char.IsAsciiHexDigit);
    }

    private static bool TryParsePart(string part, out ulong value)
    {
        value = 0;
        if (part.Length == 0)
        {
            return false;
        }

        if (part.Length >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X'))
        {
            string hex = part[2..];
            return hex.Length == 0 || (hex.Length <= 16 && ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value));
        }

        if (part.Length >= 2 && part[0] == '0')
        {
            if (part.Length > 22 || part.Any(c => c < '0' || c > '7'))
            {
                return false;
            }

            foreach (char c in part)
            {
                value = (value * 8) + (ulong)(c - '0');
            }

            return true;
        }

        return part.Length <= 19 && part.All(char.IsAsciiDigit) && ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
