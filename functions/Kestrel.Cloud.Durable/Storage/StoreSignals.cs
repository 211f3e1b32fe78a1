using System.Collections.Concurrent;

namespace Kestrel.Cloud.Durable.Storage;

/// <summary>
/// In-process notifications a store raises after its own writes, so work produced in this process starts
/// within milliseconds instead of at the next poll. Work produced by another process is found by polling.
/// </summary>
public sealed class StoreSignals
{
    private readonly AsyncSignal orchestrationWork = new();
    private readonly AsyncSignal activityWork = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> instanceWaiters = new(StringComparer.Ordinal);

    /// <summary>The signal for one kind of work.</summary>
    public AsyncSignal For(WorkItemKind kind) => kind == WorkItemKind.Orchestration ? this.orchestrationWork : this.activityWork;

    /// <summary>Raise after new orchestration messages became visible.</summary>
    public void NotifyOrchestrationWork() => this.orchestrationWork.Set();

    /// <summary>Raise after new activities became visible.</summary>
    public void NotifyActivityWork() => this.activityWork.Set();

    /// <summary>Raise after an instance's stored state changed.</summary>
    public void NotifyInstanceChanged(string instanceId)
    {
        if (this.instanceWaiters.TryRemove(instanceId, out TaskCompletionSource? tcs))
        {
            tcs.TrySetResult();
        }
    }

    /// <summary>A task that completes at the next change of the instance. Take it before reading the state.</summary>
    public Task WhenInstanceChanged(string instanceId) =>
        this.instanceWaiters.GetOrAdd(instanceId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
}

/// <summary>
/// A versioned signal: read <see cref="Version"/>, look for work, then wait with that version; a Set that
/// happened in between is never missed.
/// </summary>
public sealed class AsyncSignal
{
    private readonly object gate = new();
    private TaskCompletionSource tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long version;

    /// <summary>Increments on every Set.</summary>
    public long Version => Interlocked.Read(ref this.version);

    /// <summary>Wakes every waiter.</summary>
    public void Set()
    {
        TaskCompletionSource toComplete;
        lock (this.gate)
        {
            this.version++;
            toComplete = this.tcs;
            this.tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        toComplete.TrySetResult();
    }

    /// <summary>
    /// Waits until a Set after <paramref name="sinceVersion"/>, until <paramref name="wakeAt"/> on
    /// <paramref name="timeProvider"/>'s clock, or cancellation. Returns true when signalled.
    /// </summary>
    /// <remarks>
    /// The timer is registered before the clock is read again: if the clock moved past
    /// <paramref name="wakeAt"/> while the caller computed it, the wait ends at once instead of waiting a
    /// whole extra interval (this matters for manual clocks in tests, and for clock jumps).
    /// </remarks>
    public async Task<bool> WaitAsync(long sinceVersion, DateTimeOffset wakeAt, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        Task signalled;
        lock (this.gate)
        {
            if (this.version != sinceVersion)
            {
                return true;
            }

            signalled = this.tcs.Task;
        }

        TimeSpan timeout = wakeAt - timeProvider.GetUtcNow();
        if (timeout <= TimeSpan.Zero)
        {
            return false;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task delay = Task.Delay(timeout, timeProvider, cts.Token);
        if (timeProvider.GetUtcNow() >= wakeAt)
        {
            cts.Cancel();
            return signalled.IsCompleted;
        }

        Task winner = await Task.WhenAny(signalled, delay).ConfigureAwait(false);
        cts.Cancel();
        cancellationToken.ThrowIfCancellationRequested();
        return winner == signalled;
    }
}
