using Kestrel.Cloud.Durable.History;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Durable.Replay;

/// <summary>What one orchestration step produced.</summary>
internal sealed class OrchestrationStepResult
{
    public required IReadOnlyList<HistoryEvent> NewEvents { get; init; }

    public required IReadOnlyList<ScheduleActivityAction> Activities { get; init; }

    public required IReadOnlyList<OrchestrationMessage> Messages { get; init; }

    public required OrchestrationRuntimeStatus Status { get; init; }

    public string? Output { get; init; }

    public TaskFailureDetails? Failure { get; init; }

    public string? CustomStatus { get; init; }

    /// <summary>Set when the orchestration called ContinueAsNew and returned.</summary>
    public ExecutionStartedEvent? ContinueAsNew { get; init; }

    /// <summary>The execution the step ran (null if the instance never started).</summary>
    public string? ExecutionId { get; init; }
}

/// <summary>
/// Replays an orchestration's history through its code and applies new messages, producing the new
/// history events and the work the step created. Synchronous and single-threaded: a step never does I/O.
/// An executor may be kept between steps (the replay cache) and fed only the new messages.
/// </summary>
internal sealed class OrchestrationExecutor
{
    private const int MaxContinuationsPerStep = 1_000_000;

    private readonly DurableTaskRegistry registry;
    private readonly IServiceProvider services;
    private readonly ILoggerFactory loggerFactory;
    private readonly DurableTaskOptions options;
    private readonly OrchestrationTaskScheduler scheduler = new();

    private readonly Dictionary<int, OpenTask> openTasks = new();
    private readonly SortedDictionary<int, PendingAction> unrecorded = new();
    private readonly Dictionary<string, Queue<(long Seq, EventRaisedEvent Event)>> buffered = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, LinkedList<EventWaiter>> waiters = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> seenEventIds = new(StringComparer.Ordinal);
    private readonly List<HistoryEvent> suspendedBuffer = new();

    private List<HistoryEvent> stepEvents = new();
    private List<OrchestrationMessage> outgoing = new();
    private ExecutionStartedEvent? started;
    private ExecutionStartedEvent? deferredStart;
    private Task<object?>? orchestratorTask;
    private ITaskOrchestrator? orchestrator;
    private bool suspended;
    private bool completionRecorded;
    private long arrivalSeq;
    private int nextTaskId;
    private int guidCounter;
    private (OrchestrationRuntimeStatus Status, string? Output, TaskFailureDetails? Failure)? completion;

    public OrchestrationExecutor(
        string instanceId,
        string? executionId,
        DurableTaskRegistry registry,
        IServiceProvider services,
        DurableTaskOptions options,
        ILoggerFactory loggerFactory)
    {
        this.InstanceId = instanceId;
        this.ExecutionId = executionId;
        this.registry = registry;
        this.services = services;
        this.options = options;
        this.loggerFactory = loggerFactory;
        this.Converter = options.DataConverter;
        this.Context = new OrchestrationContextImpl(this);
    }

    public string InstanceId { get; }

    public string? ExecutionId { get; private set; }

    /// <summary>Number of history events applied so far (validates a cached executor).</summary>
    public int HistoryCount { get; private set; }

    public bool IsReplaying { get; private set; }

    public DateTime CurrentUtcDateTime { get; private set; }

    public string? CustomStatus { get; set; }

    public DataConverter Converter { get; }

    public DurableTaskOptions Options => this.options;

    public ILoggerFactory LoggerFactory => this.loggerFactory;

    public OrchestrationContextImpl Context { get; }

    public ExecutionStartedEvent? Started => this.started;

    public (string? Input, bool Preserve)? ContinueAsNewRequest { get; set; }

    public int StepThreadId { get; private set; } = -1;

    public bool IsFinished => this.completion is not null;

    public OrchestrationRuntimeStatus Status =>
        this.completion?.Status ?? (this.suspended ? OrchestrationRuntimeStatus.Suspended
            : this.started is null ? OrchestrationRuntimeStatus.Pending : OrchestrationRuntimeStatus.Running);

    /// <summary>
    /// Runs one step. <paramref name="pastHistory"/> is replayed first (null when this executor already
    /// applied it in an earlier step), then <paramref name="messages"/> are applied as new events.
    /// </summary>
    public OrchestrationStepResult ExecuteStep(IReadOnlyList<HistoryEvent>? pastHistory, IReadOnlyList<OrchestrationMessage> messages, DateTime now)
    {
        this.StepThreadId = Environment.CurrentManagedThreadId;
        this.scheduler.EnterStep();
        var previousContext = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        this.stepEvents = new List<HistoryEvent>();
        this.outgoing = new List<OrchestrationMessage>();
        try
        {
            try
            {
                if (pastHistory is not null)
                {
                    // Counted before replaying: a replay that fails (non-determinism) still commits on top of the whole stored history.
                    this.HistoryCount = pastHistory.Count;
                    this.IsReplaying = true;
                    foreach (HistoryEvent e in pastHistory)
                    {
                        this.Apply(e);
                    }
                }

                this.IsReplaying = false;
                this.CurrentUtcDateTime = now;
                this.stepEvents.Add(new OrchestratorStartedEvent { Timestamp = now });

                // ExecutionStarted first, then the rest in the order they took effect: a timer when it
                // came due, anything else when it was sent. Enqueue order is not enough: a timer enqueued
                // at minute 0 for minute 5 must lose to an event raised at minute 4, even when a worker
                // picks both up at minute 6. OrderBy is stable, so ties keep arrival order.
                IEnumerable<OrchestrationMessage> ordered = messages
                    .Where(m => m.Event is ExecutionStartedEvent)
                    .Concat(messages.Where(m => m.Event is not ExecutionStartedEvent).OrderBy(EffectiveTime));
                foreach (OrchestrationMessage message in ordered)
                {
                    this.ApplyNewMessage(message);
                }
            }
            catch (NonDeterministicOrchestrationException ex)
            {
                this.unrecorded.Clear();
                this.Fail(ex);
            }

            return this.FinishStep(now);
        }
        finally
        {
            this.scheduler.ExitStep();
            this.StepThreadId = -1;
            SynchronizationContext.SetSynchronizationContext(previousContext);
        }
    }

    public int NextTaskId() => this.nextTaskId++;

    private static DateTime EffectiveTime(OrchestrationMessage m) => m.VisibleAt ?? m.Event.Timestamp;

    public Guid NewGuid() => DeterministicGuid.Create($"{this.InstanceId}:{this.ExecutionId}:{this.guidCounter++}");

    public void EnsureOnStepThread()
    {
        if (Environment.CurrentManagedThreadId != this.StepThreadId)
        {
            throw new NonDurableTaskAwaitedException();
        }
    }

    /// <summary>Registers an action that completes through a later history event.</summary>
    public OpenTask AddAction(PendingAction action, string taskName)
    {
        this.EnsureOnStepThread();
        var open = new OpenTask(taskName, action.TaskId);
        this.openTasks.Add(action.TaskId, open);
        this.unrecorded.Add(action.TaskId, action);
        return open;
    }

    /// <summary>Registers an action that needs no answer (SendEvent).</summary>
    public void AddFireAndForget(PendingAction action)
    {
        this.EnsureOnStepThread();
        this.unrecorded.Add(action.TaskId, action);
    }

    public Task<string?> WaitForEvent(string name, CancellationToken cancellationToken)
    {
        this.EnsureOnStepThread();
        if (this.buffered.TryGetValue(name, out var queue) && queue.Count > 0)
        {
            return Task.FromResult(queue.Dequeue().Event.Input);
        }

        var waiter = new EventWaiter();
        if (!this.waiters.TryGetValue(name, out var list))
        {
            list = new LinkedList<EventWaiter>();
            this.waiters.Add(name, list);
        }

        LinkedListNode<EventWaiter> node = list.AddLast(waiter);
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(() =>
            {
                if (node.List is not null)
                {
                    node.List.Remove(node);
                }

                waiter.Completion.TrySetCanceled(cancellationToken);
            });
        }

        return waiter.Completion.Task;
    }

    private void ApplyNewMessage(OrchestrationMessage message)
    {
        if (this.completion is not null)
        {
            // After ContinueAsNew, external events move to the next execution; everything else is dropped.
            if (this.ContinueAsNewRequest is { Preserve: true } && message.Event is EventRaisedEvent ev && this.seenEventIds.Add(ev.EventId))
            {
                this.Buffer(ev);
            }

            return;
        }

        if (message.ExecutionId is not null && this.ExecutionId is not null
            && !string.Equals(message.ExecutionId, this.ExecutionId, StringComparison.Ordinal))
        {
            return; // for an older execution
        }

        if (this.Apply(message.Event with { Timestamp = this.CurrentUtcDateTime }) is { } recorded)
        {
            this.stepEvents.Add(recorded);
        }
    }

    /// <summary>Applies one event; returns the event when it had an effect (so it is recorded), else null.</summary>
    private HistoryEvent? Apply(HistoryEvent e)
    {
        switch (e)
        {
            case OrchestratorStartedEvent:
                this.CurrentUtcDateTime = e.Timestamp;
                return e;

            case ExecutionStartedEvent es:
                if (this.started is not null || this.deferredStart is not null)
                {
                    return null;
                }

                if (this.suspended)
                {
                    // A suspended instance applies nothing until it is resumed, its start included.
                    this.deferredStart = es;
                    return e;
                }

                this.StartExecution(es);
                return e;

            case TaskScheduledEvent or TimerCreatedEvent or SubOrchestrationCreatedEvent or EventSentEvent:
                this.MatchRecordedAction(e);
                return e;

            case ExecutionCompletedEvent completed:
                this.completion ??= (completed.Status, completed.Result, completed.FailureDetails);
                this.completionRecorded = true;
                return e;

            case ExecutionTerminatedEvent terminated:
                if (this.completion is not null)
                {
                    return null;
                }

                this.completion = (OrchestrationRuntimeStatus.Terminated, this.Converter.Serialize(terminated.Reason), null);
                this.ContinueAsNewRequest = null;
                return e;

            case ExecutionSuspendedEvent:
                if (this.suspended)
                {
                    return null;
                }

                this.suspended = true;
                return e;

            case ExecutionResumedEvent:
                if (!this.suspended)
                {
                    return null;
                }

                this.suspended = false;
                if (this.deferredStart is { } deferred)
                {
                    this.deferredStart = null;
                    this.StartExecution(deferred);
                }

                var pending = this.suspendedBuffer.ToList();
                this.suspendedBuffer.Clear();
                foreach (HistoryEvent b in pending)
                {
                    this.Deliver(b);
                }

                return e;

            default:
                if (!this.Accept(e))
                {
                    return null;
                }

                if (this.suspended)
                {
                    this.suspendedBuffer.Add(e);
                }
                else
                {
                    this.Deliver(e);
                }

                return e;
        }
    }

    /// <summary>De-duplicates a result or event; true when it is new and belongs to this execution.</summary>
    private bool Accept(HistoryEvent e)
    {
        int? taskId = e switch
        {
            TaskCompletedEvent c => c.TaskScheduledId,
            TaskFailedEvent f => f.TaskScheduledId,
            SubOrchestrationCompletedEvent c => c.TaskScheduledId,
            SubOrchestrationFailedEvent f => f.TaskScheduledId,
            TimerFiredEvent t => t.TimerId,
            _ => null,
        };

        if (taskId is int id)
        {
            if (!this.openTasks.TryGetValue(id, out OpenTask? open) || open.Accepted || this.unrecorded.ContainsKey(id))
            {
                return false;
            }

            open.Accepted = true;
            return true;
        }

        if (e is EventRaisedEvent ev)
        {
            return this.seenEventIds.Add(ev.EventId);
        }

        return false;
    }

    private void Deliver(HistoryEvent e)
    {
        switch (e)
        {
            case TaskCompletedEvent c:
                this.Take(c.TaskScheduledId).Completion.TrySetResult(c.Result);
                break;
            case SubOrchestrationCompletedEvent c:
                this.Take(c.TaskScheduledId).Completion.TrySetResult(c.Result);
                break;
            case TimerFiredEvent t:
                this.Take(t.TimerId).Completion.TrySetResult(null);
                break;
            case TaskFailedEvent f:
                OpenTask failed = this.Take(f.TaskScheduledId);
                failed.Completion.TrySetException(new TaskFailedException(failed.Name, f.TaskScheduledId, f.FailureDetails));
                break;
            case SubOrchestrationFailedEvent f:
                OpenTask subFailed = this.Take(f.TaskScheduledId);
                subFailed.Completion.TrySetException(new TaskFailedException(subFailed.Name, f.TaskScheduledId, f.FailureDetails));
                break;
            case EventRaisedEvent ev:
                this.DeliverEvent(ev);
                break;
        }

        this.RunContinuations();
    }

    private OpenTask Take(int id)
    {
        OpenTask open = this.openTasks[id];
        this.openTasks.Remove(id);
        return open;
    }

    private void DeliverEvent(EventRaisedEvent ev)
    {
        if (this.waiters.TryGetValue(ev.Name, out var list) && list.First is { } first)
        {
            list.RemoveFirst();
            first.Value.Completion.TrySetResult(ev.Input);
            return;
        }

        this.Buffer(ev);
    }

    private void Buffer(EventRaisedEvent ev)
    {
        if (!this.buffered.TryGetValue(ev.Name, out var queue))
        {
            queue = new Queue<(long, EventRaisedEvent)>();
            this.buffered.Add(ev.Name, queue);
        }

        queue.Enqueue((this.arrivalSeq++, ev));
    }

    private void StartExecution(ExecutionStartedEvent es)
    {
        this.started = es;
        this.ExecutionId = es.ExecutionId;
        if (es.CarriedOverEvents is { } carried)
        {
            foreach (EventRaisedEvent ev in carried)
            {
                if (this.seenEventIds.Add(ev.EventId))
                {
                    this.Buffer(ev);
                }
            }
        }

        if (!this.registry.TryGetOrchestrator(es.Name, out var factory))
        {
            this.Fail(new TaskNotRegisteredException("orchestrator", es.Name, this.registry.OrchestratorNames));
            return;
        }

        object? input;
        try
        {
            this.orchestrator = factory(this.services);
            input = this.Converter.Deserialize(es.Input, this.orchestrator.InputType);
        }
        catch (Exception ex)
        {
            this.Fail(ex);
            return;
        }

        ITaskOrchestrator o = this.orchestrator;
        OrchestrationContextImpl ctx = this.Context;
        this.orchestratorTask = Task.Factory.StartNew(
            () => o.RunAsync(ctx, input),
            CancellationToken.None,
            TaskCreationOptions.None,
            this.scheduler).Unwrap();
        this.RunContinuations();
    }

    private void MatchRecordedAction(HistoryEvent recorded)
    {
        int taskId = recorded switch
        {
            TaskScheduledEvent t => t.TaskId,
            TimerCreatedEvent t => t.TaskId,
            SubOrchestrationCreatedEvent s => s.TaskId,
            EventSentEvent s => s.TaskId,
            _ => throw new InvalidOperationException("Unreachable."),
        };

        if (!this.unrecorded.TryGetValue(taskId, out PendingAction? action))
        {
            throw new NonDeterministicOrchestrationException(
                $"Non-deterministic orchestration '{this.started?.Name}' (instance '{this.InstanceId}'): history recorded {recorded.Describe()} as task #{taskId}, " +
                "but on replay the orchestrator did not issue that action. Orchestrator code must issue the same actions in the same order on every replay; " +
                "see docs/durable-engine.md, \"Determinism rules\".");
        }

        if (!action.Matches(recorded))
        {
            throw new NonDeterministicOrchestrationException(
                $"Non-deterministic orchestration '{this.started?.Name}' (instance '{this.InstanceId}'): history recorded {recorded.Describe()} as task #{taskId}, " +
                $"but on replay the orchestrator issued {action.Describe()}. Orchestrator code must issue the same actions in the same order on every replay; " +
                "see docs/durable-engine.md, \"Determinism rules\".");
        }

        this.unrecorded.Remove(taskId);
    }

    private void RunContinuations()
    {
        this.scheduler.Pump(MaxContinuationsPerStep);
        if (this.completion is not null || this.orchestratorTask is not { IsCompleted: true } task)
        {
            return;
        }

        if (task.IsFaulted)
        {
            Exception ex = task.Exception!.InnerExceptions.Count == 1 ? task.Exception.InnerException! : task.Exception;
            this.Fail(ex);
        }
        else if (task.IsCanceled)
        {
            this.Fail(new TaskCanceledException("The orchestrator's task was cancelled (for example a WaitForExternalEvent that timed out and was not caught)."));
        }
        else if (this.ContinueAsNewRequest is not null)
        {
            this.completion = (OrchestrationRuntimeStatus.ContinuedAsNew, null, null);
        }
        else
        {
            string? output;
            try
            {
                output = this.Converter.Serialize(task.Result);
                PayloadLimits.Check("orchestration output", output, this.options.MaxPayloadSizeBytes);
            }
            catch (Exception ex)
            {
                this.Fail(ex);
                return;
            }

            this.completion = (OrchestrationRuntimeStatus.Completed, output, null);
        }
    }

    private void Fail(Exception ex)
    {
        this.ContinueAsNewRequest = null;
        this.completion = (OrchestrationRuntimeStatus.Failed, null, TaskFailureDetails.FromException(ex));
    }

    private OrchestrationStepResult FinishStep(DateTime now)
    {
        if (this.completion is null && this.started is not null && !this.suspended)
        {
            bool awaitsDurableWork = this.openTasks.Values.Any(t => !t.Completion.Task.IsCompleted)
                || this.waiters.Values.Any(l => l.Count > 0);
            if (this.scheduler.ForeignContinuationDetected || !awaitsDurableWork)
            {
                this.unrecorded.Clear();
                this.Fail(new NonDurableTaskAwaitedException());
            }
        }

        int projected = this.HistoryCount + this.stepEvents.Count + this.unrecorded.Count;
        if (this.completion is null && projected > this.options.MaxHistoryEventsPerInstance)
        {
            this.unrecorded.Clear();
            this.Fail(new InvalidOperationException(
                $"The instance's history would grow to {projected} events, over the limit of {this.options.MaxHistoryEventsPerInstance} " +
                "(DurableTaskOptions.MaxHistoryEventsPerInstance). Long-running orchestrations should call context.ContinueAsNew " +
                "periodically to restart with an empty history."));
        }

        var activities = new List<ScheduleActivityAction>();
        foreach (PendingAction action in this.unrecorded.Values)
        {
            this.stepEvents.Add(action.ToHistoryEvent(now));
            switch (action)
            {
                case ScheduleActivityAction a:
                    activities.Add(a);
                    break;
                case CreateTimerAction t:
                    this.outgoing.Add(new OrchestrationMessage(this.InstanceId, this.ExecutionId, new TimerFiredEvent(t.TaskId, t.FireAt) { Timestamp = now }, t.FireAt));
                    break;
                case CreateSubOrchestrationAction s:
                    var childStart = new ExecutionStartedEvent(s.Name, s.Input, Guid.NewGuid().ToString("N"))
                    {
                        Timestamp = now,
                        Parent = new ParentInstanceInfo(this.InstanceId, this.ExecutionId!, s.TaskId, this.started!.Name),
                    };
                    this.outgoing.Add(new OrchestrationMessage(s.InstanceId, childStart.ExecutionId, childStart));
                    break;
                case SendEventAction ev:
                    this.outgoing.Add(new OrchestrationMessage(
                        ev.InstanceId,
                        null,
                        new EventRaisedEvent(ev.Name, ev.Input, $"{this.InstanceId}:{this.ExecutionId}:{ev.TaskId}") { Timestamp = now }));
                    break;
            }
        }

        this.unrecorded.Clear();

        ExecutionStartedEvent? continueAsNew = null;
        if (this.completion is { } done && !this.completionRecorded)
        {
            this.completionRecorded = true;
            if (done.Status == OrchestrationRuntimeStatus.ContinuedAsNew)
            {
                var (newInput, preserve) = this.ContinueAsNewRequest!.Value;
                List<EventRaisedEvent> carried = preserve
                    ? this.buffered.Values.SelectMany(q => q).OrderBy(x => x.Seq).Select(x => x.Event).ToList()
                    : new List<EventRaisedEvent>();
                continueAsNew = new ExecutionStartedEvent(this.started!.Name, newInput, Guid.NewGuid().ToString("N"))
                {
                    Timestamp = now,
                    Parent = this.started.Parent,
                    CarriedOverEvents = carried.Count == 0 ? null : carried,
                };
            }
            else
            {
                this.stepEvents.Add(new ExecutionCompletedEvent(done.Status, done.Output, done.Failure) { Timestamp = now });
                if ((this.started ?? this.deferredStart)?.Parent is { } parent)
                {
                    HistoryEvent notice = done.Status == OrchestrationRuntimeStatus.Completed
                        ? new SubOrchestrationCompletedEvent(parent.TaskScheduledId, done.Output) { Timestamp = now }
                        : new SubOrchestrationFailedEvent(
                            parent.TaskScheduledId,
                            done.Failure ?? new TaskFailureDetails("Kestrel.Cloud.Durable.OrchestrationTerminated", $"Sub-orchestration '{this.InstanceId}' was terminated: {done.Output}"))
                        { Timestamp = now };
                    this.outgoing.Add(new OrchestrationMessage(parent.InstanceId, parent.ExecutionId, notice));
                }
            }
        }

        this.HistoryCount += this.stepEvents.Count;
        return new OrchestrationStepResult
        {
            NewEvents = this.stepEvents,
            Activities = activities,
            Messages = this.outgoing,
            Status = continueAsNew is not null ? OrchestrationRuntimeStatus.Running : this.Status,
            Output = this.completion?.Output,
            Failure = this.completion?.Failure,
            CustomStatus = this.CustomStatus,
            ContinueAsNew = continueAsNew,
            ExecutionId = this.ExecutionId,
        };
    }

    internal sealed class OpenTask
    {
        public OpenTask(string name, int taskId)
        {
            this.Name = name;
            this.TaskId = taskId;
        }

        public string Name { get; }

        public int TaskId { get; }

        public bool Accepted { get; set; }

        public TaskCompletionSource<string?> Completion { get; } = new();
    }

    private sealed class EventWaiter
    {
        public TaskCompletionSource<string?> Completion { get; } = new();
    }
}
