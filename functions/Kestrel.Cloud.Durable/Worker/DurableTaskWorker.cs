using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Replay;
using Kestrel.Cloud.Durable.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.Worker;

/// <summary>
/// Runs work items: one orchestration step or one activity at a time per call. The hosted dispatcher
/// (<see cref="DurableTaskWorkerService"/>), the Azure Functions trigger endpoints and the simulator all
/// drive the engine through these entry points.
/// </summary>
public sealed class DurableTaskWorker
{
    private readonly IOrchestrationStore store;
    private readonly DurableTaskRegistry registry;
    private readonly IServiceProvider services;
    private readonly DurableTaskOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly ReplayCache cache;

    /// <summary>Creates a worker. Options are validated here; all errors are reported together.</summary>
    public DurableTaskWorker(
        IOrchestrationStore store,
        DurableTaskRegistry registry,
        IServiceProvider services,
        IOptions<DurableTaskOptions> options,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
    {
        this.store = store;
        this.registry = registry;
        this.services = services;
        this.options = options.Value;
        this.options.Validate();
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        this.logger = this.loggerFactory.CreateLogger("Kestrel.Cloud.Durable.Worker");
        this.cache = new ReplayCache(this.options.MaxCachedOrchestrations);
    }

    /// <summary>The store this worker runs on.</summary>
    public IOrchestrationStore Store => this.store;

    /// <summary>The options in force.</summary>
    public DurableTaskOptions Options => this.options;

    /// <summary>Orchestrations currently kept replayed in memory.</summary>
    public int CachedOrchestrationCount => this.cache.Count;

    /// <summary>Locks and runs the next orchestration step; false when there was none.</summary>
    public async Task<bool> TryProcessNextOrchestrationAsync(CancellationToken cancellationToken = default)
    {
        OrchestrationWorkItem? item = await this.store.TryLockNextOrchestrationAsync(this.options.OrchestrationLockDuration, cancellationToken).ConfigureAwait(false);
        if (item is null)
        {
            return false;
        }

        await this.ProcessOrchestrationAsync(item, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Locks and runs the next activity; false when there was none.</summary>
    public async Task<bool> TryProcessNextActivityAsync(CancellationToken cancellationToken = default)
    {
        ActivityWorkItem? item = await this.store.TryLockNextActivityAsync(this.options.ActivityLockDuration, cancellationToken).ConfigureAwait(false);
        if (item is null)
        {
            return false;
        }

        await this.ProcessActivityAsync(item, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Runs one step for a locked instance and commits it. Never throws for orchestration failures (they
    /// become the instance's state); a lost lock drops the step; other errors abandon the work item so it
    /// is delivered again.
    /// </summary>
    public async Task ProcessOrchestrationAsync(OrchestrationWorkItem item, CancellationToken cancellationToken = default)
    {
        InstanceRecord record = item.Instance;
        try
        {
            OrchestrationStepCommit commit;
            OrchestrationExecutor? executor = null;
            if (record.Status.IsTerminal())
            {
                // Late messages for a finished instance: consume them and change nothing (but see TerminatedBeforeStartNoticesAsync).
                IReadOnlyList<OrchestrationMessage> notices = await this.TerminatedBeforeStartNoticesAsync(item, cancellationToken).ConfigureAwait(false);
                commit = new OrchestrationStepCommit { Instance = record, NewEvents = [], Activities = [], Messages = notices };
                this.cache.Remove(record.InstanceId);
            }
            else if (item.DeliveryCount > this.options.MaxOrchestrationDeliveryAttempts)
            {
                this.cache.Remove(record.InstanceId);
                commit = await this.PoisonCommitAsync(item, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                executor = this.cache.TryTake(record.InstanceId, record.ExecutionId, record.HistoryCount);
                IReadOnlyList<HistoryEvent>? past = null;
                if (executor is null)
                {
                    past = await this.store.GetHistoryAsync(record.InstanceId, cancellationToken).ConfigureAwait(false);
                    executor = new OrchestrationExecutor(record.InstanceId, record.ExecutionId, this.registry, this.services, this.options, this.loggerFactory);
                }

                OrchestrationStepResult result = executor.ExecuteStep(past, item.Messages, this.Now);
                commit = BuildCommit(record, result, executor.HistoryCount);
            }

            await this.store.CompleteOrchestrationAsync(item, commit, cancellationToken).ConfigureAwait(false);
            if (executor is { IsFinished: false })
            {
                this.cache.Put(executor);
            }

            Log.StepCommitted(this.logger, record.InstanceId, commit.Instance.Status, item.Messages.Count, commit.NewEvents.Count);
        }
        catch (StoreConcurrencyException ex)
        {
            this.cache.Remove(record.InstanceId);
            Log.StepLockLost(this.logger, record.InstanceId, ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            this.cache.Remove(record.InstanceId);
            Log.StepAbandoned(this.logger, record.InstanceId, ex);
            TimeSpan delay = ex is OperationCanceledException ? TimeSpan.Zero : RetryDelay(item.DeliveryCount);
            await this.TryAbandonAsync(() => this.store.AbandonOrchestrationAsync(item, delay, CancellationToken.None)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs one activity and records its result in the instance's inbox. An exception becomes a
    /// TaskFailed result; cancellation (shutdown) releases the activity so it runs again later.
    /// </summary>
    public async Task ProcessActivityAsync(ActivityWorkItem item, CancellationToken cancellationToken = default)
    {
        ActivityRequest request = item.Request;
        HistoryEvent resultEvent;
        using var renewCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task renewal = this.RenewWhileRunningAsync(item, renewCts.Token);
        try
        {
            resultEvent = await this.RunActivityAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            renewCts.Cancel();
            await renewal.ConfigureAwait(false);
            Log.ActivityReleased(this.logger, request.Name, request.InstanceId, request.TaskId);
            await this.TryAbandonAsync(() => this.store.AbandonActivityAsync(item, TimeSpan.Zero, CancellationToken.None)).ConfigureAwait(false);
            return;
        }

        renewCts.Cancel();
        await renewal.ConfigureAwait(false);

        var message = new OrchestrationMessage(request.InstanceId, request.ExecutionId, resultEvent);
        try
        {
            bool completed = await this.store.CompleteActivityAsync(item, message, CancellationToken.None).ConfigureAwait(false);
            if (!completed)
            {
                Log.ActivityLockLost(this.logger, request.Name, request.InstanceId, request.TaskId);
            }
        }
        catch (Exception ex)
        {
            Log.ActivityCompleteFailed(this.logger, request.Name, request.InstanceId, ex);
            await this.TryAbandonAsync(() => this.store.AbandonActivityAsync(item, RetryDelay(item.DeliveryCount), CancellationToken.None)).ConfigureAwait(false);
        }
    }

    private DateTime Now => this.timeProvider.GetUtcNow().UtcDateTime;

    private static TimeSpan RetryDelay(int deliveryCount) =>
        TimeSpan.FromMilliseconds(Math.Min(30_000, 100 * Math.Pow(2, Math.Min(deliveryCount, 10))));

    private static OrchestrationStepCommit BuildCommit(InstanceRecord record, OrchestrationStepResult result, int historyCount)
    {
        var activities = result.Activities
            .Select(a => new ActivityRequest(record.InstanceId, result.ExecutionId ?? record.ExecutionId, a.TaskId, a.Name, a.Input))
            .ToList();

        if (result.ContinueAsNew is { } restart)
        {
            var messages = result.Messages.ToList();
            messages.Add(new OrchestrationMessage(record.InstanceId, restart.ExecutionId, restart));
            return new OrchestrationStepCommit
            {
                Instance = record with
                {
                    ExecutionId = restart.ExecutionId,
                    Status = OrchestrationRuntimeStatus.Running,
                    Input = restart.Input,
                    Output = null,
                    Failure = null,
                    CustomStatus = result.CustomStatus,
                    HistoryCount = 0,
                },
                ReplaceHistory = true,
                NewEvents = [],
                Activities = activities,
                Messages = messages,
            };
        }

        return new OrchestrationStepCommit
        {
            Instance = record with
            {
                // A step that ran before its execution's ExecutionStarted (a restart delivered late after
                // ContinueAsNew, behind a stale message) reports Pending; a running instance does not go back to
                // Pending. (A resume before the first start does: Suspended becomes Pending again.)
                Status = result.Status == OrchestrationRuntimeStatus.Pending && record.Status == OrchestrationRuntimeStatus.Running
                    ? OrchestrationRuntimeStatus.Running
                    : result.Status,
                Output = result.Output,
                Failure = result.Failure,
                CustomStatus = result.CustomStatus,
                HistoryCount = historyCount,
            },
            NewEvents = result.NewEvents,
            Activities = activities,
            Messages = result.Messages,
        };
    }

    private async Task<OrchestrationStepCommit> PoisonCommitAsync(OrchestrationWorkItem item, CancellationToken cancellationToken)
    {
        var failure = new TaskFailureDetails(
            "Kestrel.Cloud.Durable.PoisonWorkItem",
            $"The engine failed to run a step of this instance {item.DeliveryCount - 1} times in a row " +
            $"(DurableTaskOptions.MaxOrchestrationDeliveryAttempts = {this.options.MaxOrchestrationDeliveryAttempts}); " +
            "the instance was failed so it does not retry forever. The worker log has the errors.");
        DateTime now = this.Now;
        var events = new List<HistoryEvent>
        {
            new OrchestratorStartedEvent { Timestamp = now },
            new ExecutionCompletedEvent(OrchestrationRuntimeStatus.Failed, null, failure) { Timestamp = now },
        };
        var messages = new List<OrchestrationMessage>();
        IReadOnlyList<HistoryEvent> history = await this.store.GetHistoryAsync(item.InstanceId, cancellationToken).ConfigureAwait(false);
        ParentInstanceInfo? parent = history.OfType<ExecutionStartedEvent>().FirstOrDefault()?.Parent
            ?? item.Messages.Select(m => m.Event).OfType<ExecutionStartedEvent>().FirstOrDefault()?.Parent;
        if (parent is not null)
        {
            messages.Add(new OrchestrationMessage(parent.InstanceId, parent.ExecutionId, new SubOrchestrationFailedEvent(parent.TaskScheduledId, failure) { Timestamp = now }));
        }

        return new OrchestrationStepCommit
        {
            Instance = item.Instance with { Status = OrchestrationRuntimeStatus.Failed, Failure = failure, HistoryCount = item.Instance.HistoryCount + events.Count },
            NewEvents = events,
            Activities = [],
            Messages = messages,
        };
    }

    /// <summary>
    /// An execution terminated before its ExecutionStarted was applied (its start was delivered late, after a
    /// retry delay or behind a ContinueAsNew) did not know its parent, so it could not tell it. When that start
    /// arrives at the finished instance, it names the parent: tell it now, or the parent waits forever.
    /// </summary>
    private async Task<IReadOnlyList<OrchestrationMessage>> TerminatedBeforeStartNoticesAsync(OrchestrationWorkItem item, CancellationToken cancellationToken)
    {
        InstanceRecord record = item.Instance;
        ExecutionStartedEvent? start = item.Messages.Select(m => m.Event).OfType<ExecutionStartedEvent>()
            .FirstOrDefault(es => es.Parent is not null && string.Equals(es.ExecutionId, record.ExecutionId, StringComparison.Ordinal));
        if (start is null || record.Status != OrchestrationRuntimeStatus.Terminated)
        {
            return [];
        }

        IReadOnlyList<HistoryEvent> history = await this.store.GetHistoryAsync(record.InstanceId, cancellationToken).ConfigureAwait(false);
        if (history.OfType<ExecutionStartedEvent>().Any())
        {
            return []; // it started, so it told its parent when it ended
        }

        ParentInstanceInfo parent = start.Parent!;
        var failure = new TaskFailureDetails("Kestrel.Cloud.Durable.OrchestrationTerminated", $"Sub-orchestration '{record.InstanceId}' was terminated: {record.Output}");
        return [new OrchestrationMessage(parent.InstanceId, parent.ExecutionId, new SubOrchestrationFailedEvent(parent.TaskScheduledId, failure) { Timestamp = this.Now })];
    }

    private async Task<HistoryEvent> RunActivityAsync(ActivityRequest request, CancellationToken cancellationToken)
    {
        DateTime started = this.Now;
        if (!this.registry.TryGetActivity(request.Name, out var factory))
        {
            var notFound = new TaskNotRegisteredException("activity", request.Name, this.registry.ActivityNames);
            return new TaskFailedEvent(request.TaskId, TaskFailureDetails.FromException(notFound)) { Timestamp = started };
        }

        try
        {
            await using AsyncServiceScope scope = this.services.CreateAsyncScope();
            ITaskActivity activity = factory(scope.ServiceProvider);
            object? input = this.options.DataConverter.Deserialize(request.Input, activity.InputType);
            var context = new TaskActivityContext(request.Name, request.InstanceId, request.TaskId, cancellationToken);
            object? output = await activity.RunAsync(context, input).ConfigureAwait(false);
            string? serialized = this.options.DataConverter.Serialize(output);
            PayloadLimits.Check($"output of activity '{request.Name}'", serialized, this.options.MaxPayloadSizeBytes);
            return new TaskCompletedEvent(request.TaskId, serialized) { Timestamp = this.Now };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            Log.ActivityFailed(this.logger, request.Name, request.InstanceId, ex.GetType().Name);
            return new TaskFailedEvent(request.TaskId, TaskFailureDetails.FromException(ex)) { Timestamp = this.Now };
        }
    }

    private async Task RenewWhileRunningAsync(ActivityWorkItem item, CancellationToken cancellationToken)
    {
        TimeSpan interval = this.options.ActivityLockDuration / 3;
        try
        {
            while (true)
            {
                await Task.Delay(interval, this.timeProvider, cancellationToken).ConfigureAwait(false);
                if (!await this.store.RenewActivityLockAsync(item, this.options.ActivityLockDuration, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            Log.ActivityCompleteFailed(this.logger, item.Request.Name, item.Request.InstanceId, ex);
        }
    }

    private async Task TryAbandonAsync(Func<Task> abandon)
    {
        try
        {
            await abandon().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The lock expires by itself; the work is delivered again then.
            Log.AbandonFailed(this.logger, ex);
        }
    }
}
