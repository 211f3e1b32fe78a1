namespace Kestrel.Cloud.Agents.Storage;

/// <summary>
/// In-process wake-ups for <c>WaitAsync</c>: a waiter takes the run's current signal, an append completes it.
/// Entries are reference-counted, so a run nobody waits for holds no memory.
/// </summary>
internal sealed class RunEventSignals
{
    private readonly Dictionary<string, Signal> signals = new(StringComparer.Ordinal);

    /// <summary>Takes the run's signal; dispose the lease when done waiting.</summary>
    public Lease Acquire(string runId)
    {
        lock (this.signals)
        {
            if (!this.signals.TryGetValue(runId, out Signal? signal))
            {
                signal = new Signal();
                this.signals.Add(runId, signal);
            }

            signal.Waiters++;
            return new Lease(this, runId, signal);
        }
    }

    /// <summary>Wakes everyone waiting for <paramref name="runId"/>.</summary>
    public void Notify(string runId)
    {
        Signal? signal;
        lock (this.signals)
        {
            if (!this.signals.Remove(runId, out signal))
            {
                return;
            }
        }

        signal.Completion.TrySetResult();
    }

    /// <summary>Waits on a run's signal for at most <paramref name="maxWait"/>; never throws on timeout.</summary>
    public static async Task WaitAsync(Task signal, TimeSpan maxWait, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        try
        {
            await signal.WaitAsync(maxWait, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private void Release(string runId, Signal signal)
    {
        lock (this.signals)
        {
            signal.Waiters--;
            if (signal.Waiters == 0 && this.signals.TryGetValue(runId, out Signal? current) && ReferenceEquals(current, signal))
            {
                this.signals.Remove(runId);
            }
        }
    }

    /// <summary>A waiter's hold on a run's signal.</summary>
    internal readonly struct Lease : IDisposable
    {
        private readonly RunEventSignals owner;
        private readonly string runId;
        private readonly Signal signal;

        public Lease(RunEventSignals owner, string runId, Signal signal)
        {
            this.owner = owner;
            this.runId = runId;
            this.signal = signal;
        }

        /// <summary>Completes on the next append to the run in this process.</summary>
        public Task Task => this.signal.Completion.Task;

        public void Dispose() => this.owner.Release(this.runId, this.signal);
    }

    internal sealed class Signal
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Waiters { get; set; }
    }
}
