using System.Collections.Concurrent;
using Kestrel.Cloud.Durable.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kestrel.Cloud.Durable.Worker;

/// <summary>
/// The in-process dispatcher: per kind of work, <c>FetchConcurrency</c> fetch loops (default one) sharing its
/// concurrency limit of work items at once. Work this process produces is signalled and starts within milliseconds; work
/// from elsewhere is found by polling with a back-off from MinPollInterval to MaxPollInterval, and an idle
/// loop also wakes when the store's next timer is due. On shutdown it stops fetching, waits up to
/// ShutdownTimeout for work in flight, then cancels it (activities are released and run again later).
/// </summary>
public sealed class DurableTaskWorkerService : BackgroundService
{
    private readonly DurableTaskWorker worker;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private readonly CancellationTokenSource processingCts = new();
    private readonly ConcurrentDictionary<Task, byte> inFlight = new();

    /// <summary>Creates the service.</summary>
    public DurableTaskWorkerService(DurableTaskWorker worker, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        this.worker = worker;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kestrel.Cloud.Durable.Dispatcher");
    }

    /// <inheritdoc/>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        Task[] running = this.inFlight.Keys.ToArray();
        Log.WorkerStopping(this.logger, this.worker.Options.ShutdownTimeout, running.Length);
        Task all = Task.WhenAll(running);
        Task timeout = Task.Delay(this.worker.Options.ShutdownTimeout, cancellationToken);
        if (await Task.WhenAny(all, timeout).ConfigureAwait(false) != all)
        {
            await this.processingCts.CancelAsync().ConfigureAwait(false);
            await all.ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        this.processingCts.Dispose();
        base.Dispose();
    }

    /// <inheritdoc/>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        DurableTaskOptions o = this.worker.Options;
        Log.WorkerStarted(this.logger, this.worker.Store.Name, o.MaxConcurrentOrchestrationWorkItems, o.MaxConcurrentActivityWorkItems);
        return Task.WhenAll(
            this.RunLoopsAsync(WorkItemKind.Orchestration, o.MaxConcurrentOrchestrationWorkItems, stoppingToken),
            this.RunLoopsAsync(WorkItemKind.Activity, o.MaxConcurrentActivityWorkItems, stoppingToken));
    }

    // FetchConcurrency fetch loops per kind share one limit of work items in flight.
    private Task RunLoopsAsync(WorkItemKind kind, int maxConcurrency, CancellationToken stoppingToken)
    {
        // Not disposed: work in flight releases its slot after the loops have ended (StopAsync waits for it).
        var slots = new SemaphoreSlim(maxConcurrency, maxConcurrency);
        int loops = Math.Min(this.worker.Options.FetchConcurrency, maxConcurrency);
        return Task.WhenAll(Enumerable.Range(0, loops).Select(_ => this.RunLoopAsync(kind, slots, stoppingToken)));
    }

    private async Task RunLoopAsync(WorkItemKind kind, SemaphoreSlim slots, CancellationToken stoppingToken)
    {
        // Leave the caller's thread at once: the host waits for ExecuteAsync to yield.
        await Task.Yield();
        IOrchestrationStore store = this.worker.Store;
        AsyncSignal signal = store.Signals.For(kind);
        DurableTaskOptions o = this.worker.Options;
        TimeSpan backoff = o.MinPollInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                long version = signal.Version;
                Task? started = null;
                try
                {
                    started = kind == WorkItemKind.Orchestration
                        ? await this.TryStartOrchestrationAsync(stoppingToken).ConfigureAwait(false)
                        : await this.TryStartActivityAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    Log.FetchFailed(this.logger, kind, ex);
                }

                if (started is not null)
                {
                    backoff = o.MinPollInterval;
                    this.inFlight.TryAdd(started, 0);
                    _ = started.ContinueWith(
                        (t, state) =>
                        {
                            this.inFlight.TryRemove(t, out _);
                            ((SemaphoreSlim)state!).Release();
                        },
                        slots,
                        CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default);
                    continue;
                }

                slots.Release();
                DateTimeOffset wakeAt = this.timeProvider.GetUtcNow() + backoff;
                DateTime? due = await store.GetNextWakeUpTimeAsync(kind, stoppingToken).ConfigureAwait(false);
                if (due is { } d && new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc)) < wakeAt)
                {
                    wakeAt = new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc));
                }

                bool signalled = await signal.WaitAsync(version, wakeAt, this.timeProvider, stoppingToken).ConfigureAwait(false);
                backoff = signalled ? o.MinPollInterval : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, o.MaxPollInterval.Ticks));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<Task?> TryStartOrchestrationAsync(CancellationToken stoppingToken)
    {
        var item = await this.worker.Store.TryLockNextOrchestrationAsync(this.worker.Options.OrchestrationLockDuration, stoppingToken).ConfigureAwait(false);
        return item is null ? null : Task.Run(() => this.worker.ProcessOrchestrationAsync(item, this.processingCts.Token), CancellationToken.None);
    }

    private async Task<Task?> TryStartActivityAsync(CancellationToken stoppingToken)
    {
        var item = await this.worker.Store.TryLockNextActivityAsync(this.worker.Options.ActivityLockDuration, stoppingToken).ConfigureAwait(false);
        return item is null ? null : Task.Run(() => this.worker.ProcessActivityAsync(item, this.processingCts.Token), CancellationToken.None);
    }
}
