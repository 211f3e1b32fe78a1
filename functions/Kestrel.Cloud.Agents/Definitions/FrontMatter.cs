namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>
/// Splits a markdown file into YAML front matter and body. Front matter starts with a first line of
/// <c>---</c> and ends at the next line of <c>---</c> (or <c>...</c>); a file that does not start with <c>---</c>
/// has no front matter. Line endings may be LF or CRLF; a leading BOM is ignored.
/// </summary>
internal sealed record FrontMatter(string? Yaml, int YamlFirstLine, string Body, bool IsUnclosed)
{
    public static FrontMatter Split(string text)
    {
        string s = text.TrimStart('\uFEFF').Replace("\r\n", "\n", StringComparison.Ordinal);
        int firstBreak = s.IndexOf('\n', StringComparison.Ordinal);
        string firstLine = firstBreak < 0 ? s : s[..firstBreak];
        if (firstLine.TrimEnd() != "---")
        {
            return new FrontMatter(null, 0, s, false);
        }

        if (firstBreak < 0)
        {
            return new FrontMatter(null, 0, string.Empty, true);
        }

        int position = firstBreak + 1;
        while (position <= s.Length)
        {
            int end = s.IndexOf('\n', position);
            string line = end < 0 ? s[position..] : s[position..end];
            string trimmed = line.TrimEnd();
            if (trimmed is "---" or "...")
            {
                string yaml = s[(firstBreak + 1)..position];
                string body = end < 0 ? string.Empty : s[(end + 1)..];
                return new FrontMatter(yaml, 2, body, false);
            }

            if (end < 0)
            {
                break;
            }

            position = end + 1;
        }

        return new FrontMatter(null, 0, string.Empty, true);
    }

    public static bool TrySplit(string text, out FrontMatter result)
    {
        result = Split(text);
        return !result.IsUnclosed;
    }
}
