using System.Text;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>
/// Groups streamed model text into batches for the run's log: the first piece goes at once (so a client sees the
/// first token within milliseconds), later pieces are held until <c>maxChars</c> characters are pending or
/// <c>interval</c> has passed since the last batch (checked as pieces arrive, on the injected clock).
/// Not thread-safe: one per model call.
/// </summary>
public sealed class TextDeltaBatcher
{
    private readonly TimeProvider timeProvider;
    private readonly TimeSpan interval;
    private readonly int maxChars;
    private readonly StringBuilder pending = new();
    private DateTimeOffset lastFlush;
    private bool flushedOnce;

    /// <summary>Creates a batcher.</summary>
    public TextDeltaBatcher(TimeProvider timeProvider, TimeSpan interval, int maxChars)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChars, 1);
        this.timeProvider = timeProvider;
        this.interval = interval;
        this.maxChars = maxChars;
    }

    /// <summary>Batches appended so far.</summary>
    public int BatchCount { get; private set; }

    /// <summary>Adds a piece of text; returns a batch to append now, or null to keep collecting.</summary>
    public string? Add(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        this.pending.Append(text);
        bool due = !this.flushedOnce
            || this.pending.Length >= this.maxChars
            || this.timeProvider.GetUtcNow() - this.lastFlush >= this.interval;
        return due ? this.Flush() : null;
    }

    /// <summary>Returns what is pending (null when nothing is) and starts a new batch.</summary>
    public string? Flush()
    {
        if (this.pending.Length == 0)
        {
            return null;
        }

        string batch = this.pending.ToString();
        this.pending.Clear();
        this.flushedOnce = true;
        this.lastFlush = this.timeProvider.GetUtcNow();
        this.BatchCount++;
        return batch;
    }
}
