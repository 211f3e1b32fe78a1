using System.Collections.Concurrent;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>
/// In-process bookkeeping that keeps a finished run quiet: model calls of a run register while they stream, and when
/// the run's <c>run.finished</c> is appended in this process they are stopped, so a call still streaming when the run
/// was cancelled appends nothing after <c>run.finished</c>; a model call of a run that already finished here is not
/// made at all (an at-least-once retry). Remembers the last <see cref="MaxRememberedRuns"/> finished runs. Calls in
/// another process are not reached (see docs/agents.md, "Turns").
/// </summary>
public sealed class RunStreamRegistry
{
    /// <summary>How many finished run ids are remembered.</summary>
    public const int MaxRememberedRuns = 10_000;

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<CancellationTokenSource, bool>> streaming = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> finished = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> finishedOrder = new();

    /// <summary>True when the run finished in this process.</summary>
    public bool IsFinished(string runId) => this.finished.ContainsKey(runId);

    /// <summary>Registers a model call of <paramref name="runId"/>; the returned source is cancelled when the run finishes. Dispose the registration when the call ends.</summary>
    public IDisposable Register(string runId, CancellationToken linkedTo, out CancellationToken token)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(linkedTo);
        var calls = this.streaming.GetOrAdd(runId, _ => new ConcurrentDictionary<CancellationTokenSource, bool>());
        calls[source] = true;
        if (this.IsFinished(runId))
        {
            source.Cancel();
        }

        token = source.Token;
        return new Registration(this, runId, source);
    }

    /// <summary>Marks the run finished and stops its model calls in this process.</summary>
    public void MarkFinished(string runId)
    {
        if (this.finished.TryAdd(runId, true))
        {
            this.finishedOrder.Enqueue(runId);
            while (this.finishedOrder.Count > MaxRememberedRuns && this.finishedOrder.TryDequeue(out string? old))
            {
                this.finished.TryRemove(old, out _);
            }
        }

        if (this.streaming.TryGetValue(runId, out var calls))
        {
            foreach (CancellationTokenSource source in calls.Keys)
            {
                try
                {
                    source.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }

    private sealed class Registration(RunStreamRegistry owner, string runId, CancellationTokenSource source) : IDisposable
    {
        public void Dispose()
        {
            if (owner.streaming.TryGetValue(runId, out var calls))
            {
                calls.TryRemove(source, out _);
                if (calls.IsEmpty)
                {
                    owner.streaming.TryRemove(new KeyValuePair<string, ConcurrentDictionary<CancellationTokenSource, bool>>(runId, calls));
                }
            }

            source.Dispose();
        }
    }
}
