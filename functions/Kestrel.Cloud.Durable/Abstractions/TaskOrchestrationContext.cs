using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Durable;

/// <summary>
/// What orchestrator code uses to do durable work. Every task returned here is recorded in history, so
/// on replay it completes from history instead of running again. Core members are abstract; the
/// convenience overloads funnel into them.
/// </summary>
public abstract class TaskOrchestrationContext
{
    /// <summary>The orchestration name.</summary>
    public abstract string Name { get; }

    /// <summary>The instance id.</summary>
    public abstract string InstanceId { get; }

    /// <summary>The parent instance id when this is a sub-orchestration; otherwise null.</summary>
    public abstract string? ParentInstanceId { get; }

    /// <summary>
    /// True while the orchestrator is re-running code whose effects are already in history. Use it to
    /// avoid duplicate side effects such as log lines (or use <see cref="CreateReplaySafeLogger"/>).
    /// </summary>
    public abstract bool IsReplaying { get; }

    /// <summary>
    /// The current time, deterministic across replays: the time the current step started. Use it
    /// instead of <c>DateTime.UtcNow</c>, which returns a different value on every replay and breaks
    /// timers and time comparisons.
    /// </summary>
    public abstract DateTime CurrentUtcDateTime { get; }

    /// <summary>Calls an activity and returns its result. A failure throws <see cref="TaskFailedException"/>.</summary>
    public abstract Task<TResult> CallActivityAsync<TResult>(string name, object? input = null, TaskOptions? options = null);

    /// <summary>Calls an activity whose result is not needed.</summary>
    public virtual Task CallActivityAsync(string name, object? input = null, TaskOptions? options = null) =>
        this.CallActivityAsync<object?>(name, input, options);

    /// <summary>Starts a sub-orchestration and waits for its output. A failure throws <see cref="TaskFailedException"/>.</summary>
    public abstract Task<TResult> CallSubOrchestratorAsync<TResult>(string orchestratorName, object? input = null, TaskOptions? options = null);

    /// <summary>Starts a sub-orchestration and waits for it to finish.</summary>
    public virtual Task CallSubOrchestratorAsync(string orchestratorName, object? input = null, TaskOptions? options = null) =>
        this.CallSubOrchestratorAsync<object?>(orchestratorName, input, options);

    /// <summary>A durable timer that fires at <paramref name="fireAt"/> (UTC). Cancelling the token completes the task as cancelled.</summary>
    public abstract Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken);

    /// <summary>A durable timer that fires after <paramref name="delay"/> from <see cref="CurrentUtcDateTime"/>.</summary>
    public virtual Task CreateTimer(TimeSpan delay, CancellationToken cancellationToken) =>
        this.CreateTimer(this.CurrentUtcDateTime.Add(delay), cancellationToken);

    /// <summary>A durable timer that fires at <paramref name="fireAt"/> (UTC).</summary>
    public Task CreateTimer(DateTime fireAt) => this.CreateTimer(fireAt, CancellationToken.None);

    /// <summary>A durable timer that fires after <paramref name="delay"/>.</summary>
    public Task CreateTimer(TimeSpan delay) => this.CreateTimer(delay, CancellationToken.None);

    /// <summary>
    /// Waits for an external event by name (case-insensitive). Events raised before the orchestrator
    /// waits are buffered in order per name. Cancelling the token removes the waiter, so a later event
    /// is not consumed by it.
    /// </summary>
    public abstract Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits for an external event, at most <paramref name="timeout"/> (a durable timer). On timeout the
    /// task throws <see cref="TaskCanceledException"/> and the waiter is removed, so a later event with
    /// the same name stays buffered for the next waiter.
    /// </summary>
    public virtual async Task<T> WaitForExternalEvent<T>(string eventName, TimeSpan timeout)
    {
        using var timerCts = new CancellationTokenSource();
        Task timeoutTask = this.CreateTimer(timeout, timerCts.Token);

        using var eventCts = new CancellationTokenSource();
        Task<T> eventTask = this.WaitForExternalEvent<T>(eventName, eventCts.Token);

        Task winner = await Task.WhenAny(timeoutTask, eventTask);
        if (winner == eventTask)
        {
            timerCts.Cancel();
        }
        else
        {
            eventCts.Cancel();
        }

        return await eventTask;
    }

    /// <summary>Sends an event to another orchestration instance (fire and forget, durable).</summary>
    public abstract void SendEvent(string instanceId, string eventName, object? payload);

    /// <summary>
    /// Restarts this orchestration with new input and an empty history when the orchestrator returns.
    /// With <paramref name="preserveUnprocessedEvents"/>, buffered external events are carried to the
    /// new execution; otherwise they are dropped.
    /// </summary>
    public abstract void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = true);

    /// <summary>Sets a small status value visible to clients (query it with GetInstanceAsync).</summary>
    public abstract void SetCustomStatus(object? customStatus);

    /// <summary>A GUID that is the same on every replay (name-based, from the instance id and a counter).</summary>
    public abstract Guid NewGuid();

    /// <summary>Reads the orchestration input.</summary>
    public abstract T? GetInput<T>();

    /// <summary>A logger that writes only when <see cref="IsReplaying"/> is false.</summary>
    public abstract ILogger CreateReplaySafeLogger(string categoryName);

    /// <summary>A logger that writes only when <see cref="IsReplaying"/> is false.</summary>
    public ILogger CreateReplaySafeLogger<T>() => this.CreateReplaySafeLogger(typeof(T).FullName ?? typeof(T).Name);
}
