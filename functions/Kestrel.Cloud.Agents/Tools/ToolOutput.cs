using System.Text;

namespace Kestrel.Cloud.Agents.Tools;

/// <summary>Size caps for tool output: cut at a UTF-8 character boundary and say so explicitly.</summary>
public static class ToolOutput
{
    /// <summary>Bytes kept free for the truncation note; a cap must be larger than this.</summary>
    public const int NoteReserveBytes = 256;

    /// <summary>
    /// Caps <paramref name="result"/> to <paramref name="maxBytes"/> UTF-8 bytes (note included). A cut result
    /// ends with "[output truncated: ...]" and has <see cref="ToolResult.IsTruncated"/> set.
    /// </summary>
    public static ToolResult Limit(ToolResult result, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(result);
        (string text, bool cut) = Limit(result.Text, maxBytes);
        return cut ? result with { Text = text, IsTruncated = true } : result;
    }

    /// <summary>Caps <paramref name="text"/> to <paramref name="maxBytes"/> UTF-8 bytes (note included).</summary>
    public static (string Text, bool Truncated) Limit(string text, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, NoteReserveBytes * 2);
        int total = Encoding.UTF8.GetByteCount(text);
        if (total <= maxBytes)
        {
            return (text, false);
        }

        string head = Prefix(text, maxBytes - NoteReserveBytes);
        int shown = Encoding.UTF8.GetByteCount(head);
        string note = $"\n\n[output truncated: showing the first {shown:N0} of {total:N0} bytes; the limit is {maxBytes:N0} bytes. Ask for less, e.g. a line range or a narrower search.]";
        return (head + note, true);
    }

    /// <summary>The longest prefix of <paramref name="text"/> that fits in <paramref name="maxBytes"/> UTF-8 bytes without splitting a character.</summary>
    public static string Prefix(string text, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Encoding.UTF8.GetByteCount(text) <= maxBytes)
        {
            return text;
        }

        int bytes = 0;
        int i = 0;
        while (i < text.Length)
        {
            int width;
            int chars;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                width = 4;
                chars = 2;
            }
            else
            {
                char c = text[i];
                width = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
                chars = 1;
            }

            if (bytes + width > maxBytes)
            {
                break;
            }

            bytes += width;
            i += chars;
        }

        return text[..i];
    }

    /// <summary>Decodes <paramref name="bytes"/> as UTF-8, dropping a character split at the end.</summary>
    public static string DecodeUtf8Prefix(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.Length;

        // Step back over a trailing incomplete multi-byte sequence (at most 3 continuation bytes).
        int back = 0;
        while (back < 3 && end - back - 1 >= 0 && (bytes[end - back - 1] & 0xC0) == 0x80)
        {
            back++;
        }

        if (end - back - 1 >= 0)
        {
            byte lead = bytes[end - back - 1];
            int need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (need > back + 1)
            {
                end = end - back - 1;
            }
        }

        return Encoding.UTF8.GetString(bytes[..end]);
    }
}
