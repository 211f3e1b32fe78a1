using Kestrel.Cloud.Agents.Runs;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>Helpers for the events a turn appends.</summary>
internal static class TurnEvents
{
    /// <summary>Cuts <paramref name="text"/> to <paramref name="maxChars"/> characters for display.</summary>
    public static (string Text, bool Truncated) Truncate(string text, int maxChars) =>
        text.Length <= maxChars ? (text, false) : (text[..maxChars] + "…", true);

    /// <summary>Appends events to a run and, with their keys prefixed by the run id, to each mirror run.</summary>
    public static async Task AppendAsync(IRunEventLog log, string runId, IReadOnlyList<NewRunEvent> events, IReadOnlyList<string>? mirrors, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        await log.AppendAsync(runId, events, cancellationToken).ConfigureAwait(false);
        foreach (string mirror in mirrors ?? Array.Empty<string>())
        {
            var copies = events.Select(e => new NewRunEvent($"{runId}/{e.Key}", e.Type, WithRunId(e, runId))).ToList();
            await log.AppendAsync(mirror, copies, cancellationToken).ConfigureAwait(false);
        }
    }

    private static System.Text.Json.JsonElement WithRunId(NewRunEvent e, string runId)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(e.Data.GetRawText()) as System.Text.Json.Nodes.JsonObject ?? new System.Text.Json.Nodes.JsonObject();
        node["runId"] = runId;
        return System.Text.Json.JsonSerializer.SerializeToElement(node);
    }
}

/// <summary>Argument display helpers shared by the activities and the orchestrator.</summary>
internal static class TurnArguments
{
    /// <summary>The arguments as a JSON element for an event or status, or <c>{"truncated": "..."}</c> when longer than <paramref name="maxChars"/> or not JSON.</summary>
    public static System.Text.Json.JsonElement ForDisplay(string argumentsJson, int maxChars)
    {
        if (argumentsJson.Length <= maxChars)
        {
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(argumentsJson);
                return doc.RootElement.Clone();
            }
            catch (System.Text.Json.JsonException)
            {
            }
        }

        return System.Text.Json.JsonSerializer.SerializeToElement(new { truncated = argumentsJson.Length > maxChars ? argumentsJson[..maxChars] + "…" : argumentsJson });
    }
}
