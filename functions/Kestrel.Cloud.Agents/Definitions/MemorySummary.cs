namespace Kestrel.Cloud.Agents.Definitions;

/// <summary>A memory file as listed in the prompt: its path, a one-line summary and its size. The full text is read on demand.</summary>
/// <param name="Path">The file relative to the agent folder, e.g. <c>memory/preferences.md</c>.</param>
/// <param name="Summary">Its first heading (without '#') or first non-empty line, at most <see cref="AgentDefinitionLimits.MaxSummaryLength"/> characters.</param>
/// <param name="SizeBytes">The file's size.</param>
public sealed record MemorySummary(string Path, string Summary, long SizeBytes)
{
    /// <summary>Summarises a memory file from the start of its text.</summary>
    public static MemorySummary FromHead(string path, string head, long sizeBytes)
    {
        ArgumentNullException.ThrowIfNull(head);
        string summary = string.Empty;
        string text = head.TrimStart('\uFEFF');
        if (FrontMatter.TrySplit(text, out FrontMatter split) && split.Yaml is not null)
        {
            text = split.Body;
        }

        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            summary = line.StartsWith('#') ? line.TrimStart('#').Trim() : line;
            break;
        }

        if (summary.Length > AgentDefinitionLimits.MaxSummaryLength)
        {
            summary = summary[..(AgentDefinitionLimits.MaxSummaryLength - 1)] + "…";
        }

        return new MemorySummary(path, summary, sizeBytes);
    }
}
