using System.Runtime.CompilerServices;

namespace Kestrel.Cloud.Agents.Runs;

/// <summary>Reads over <see cref="IRunEventLog"/>.</summary>
public static class RunEventLogExtensions
{
    private const int PageSize = 1000;

    /// <summary>
    /// Every event of the run, oldest first, read in pages of 1,000 from the start (a log holds at most
    /// <see cref="RunEventLogLimits.MaxEventsPerRun"/> events, so the number of pages is bounded).
    /// </summary>
    public static async IAsyncEnumerable<RunEvent> ReadAllAsync(this IRunEventLog log, string runId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        long after = 0;
        for (int page = 0; page <= RunEventLogLimits.MaxEventsPerRun / PageSize; page++)
        {
            IReadOnlyList<RunEvent> events = await log.ReadAsync(runId, after, PageSize, cancellationToken).ConfigureAwait(false);
            if (events.Count == 0)
            {
                yield break;
            }

            foreach (RunEvent e in events)
            {
                yield return e;
            }

            after = events[^1].Sequence;
        }
    }
}
