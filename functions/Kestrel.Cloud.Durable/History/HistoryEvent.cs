using System.Text.Json.Serialization;

namespace Kestrel.Cloud.Durable.History;

/// <summary>
/// One entry of an orchestration's history, and also the unit of every message delivered to an instance.
/// History is append-only; replaying it through the orchestrator code rebuilds the orchestrator's state.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$type")]
[JsonDerivedType(typeof(OrchestratorStartedEvent), "OrchestratorStarted")]
[JsonDerivedType(typeof(ExecutionStartedEvent), "ExecutionStarted")]
[JsonDerivedType(typeof(ExecutionCompletedEvent), "ExecutionCompleted")]
[JsonDerivedType(typeof(ExecutionTerminatedEvent), "ExecutionTerminated")]
[JsonDerivedType(typeof(ExecutionSuspendedEvent), "ExecutionSuspended")]
[JsonDerivedType(typeof(ExecutionResumedEvent), "ExecutionResumed")]
[JsonDerivedType(typeof(TaskScheduledEvent), "TaskScheduled")]
[JsonDerivedType(typeof(TaskCompletedEvent), "TaskCompleted")]
[JsonDerivedType(typeof(TaskFailedEvent), "TaskFailed")]
[JsonDerivedType(typeof(SubOrchestrationCreatedEvent), "SubOrchestrationCreated")]
[JsonDerivedType(typeof(SubOrchestrationCompletedEvent), "SubOrchestrationCompleted")]
[JsonDerivedType(typeof(SubOrchestrationFailedEvent), "SubOrchestrationFailed")]
[JsonDerivedType(typeof(TimerCreatedEvent), "TimerCreated")]
[JsonDerivedType(typeof(TimerFiredEvent), "TimerFired")]
[JsonDerivedType(typeof(EventRaisedEvent), "EventRaised")]
[JsonDerivedType(typeof(EventSentEvent), "EventSent")]
public abstract record HistoryEvent
{
    /// <summary>When the event was recorded (UTC).</summary>
    public DateTime Timestamp { get; init; }

    /// <summary>A short description used in error messages and logs.</summary>
    public virtual string Describe() => this.GetType().Name.Replace("Event", string.Empty, StringComparison.Ordinal);
}

/// <summary>Marks the start of one orchestration step; its timestamp is <c>CurrentUtcDateTime</c> during that step.</summary>
public sealed record OrchestratorStartedEvent : HistoryEvent;

/// <summary>Information about the orchestration that started a sub-orchestration.</summary>
public sealed record ParentInstanceInfo(string InstanceId, string ExecutionId, int TaskScheduledId, string Name);

/// <summary>Starts an execution: the orchestration name, its input and a fresh execution id.</summary>
public sealed record ExecutionStartedEvent(string Name, string? Input, string ExecutionId) : HistoryEvent
{
    /// <summary>Set when this is a sub-orchestration.</summary>
    public ParentInstanceInfo? Parent { get; init; }

    /// <summary>Events carried over by ContinueAsNew, applied before any new message.</summary>
    public IReadOnlyList<EventRaisedEvent>? CarriedOverEvents { get; init; }

    /// <inheritdoc/>
    public override string Describe() => $"ExecutionStarted({this.Name})";
}

/// <summary>The execution finished.</summary>
public sealed record ExecutionCompletedEvent(OrchestrationRuntimeStatus Status, string? Result, TaskFailureDetails? FailureDetails) : HistoryEvent;

/// <summary>The instance was terminated by a client.</summary>
public sealed record ExecutionTerminatedEvent(string? Reason) : HistoryEvent;

/// <summary>The instance was suspended: messages received until it resumes are recorded but not applied.</summary>
public sealed record ExecutionSuspendedEvent(string? Reason) : HistoryEvent;

/// <summary>The instance was resumed.</summary>
public sealed record ExecutionResumedEvent(string? Reason) : HistoryEvent;

/// <summary>An activity was scheduled with task id <see cref="TaskId"/>.</summary>
public sealed record TaskScheduledEvent(int TaskId, string Name, string? Input) : HistoryEvent
{
    /// <inheritdoc/>
    public override string Describe() => $"CallActivity({this.Name})";
}

/// <summary>An activity finished.</summary>
public sealed record TaskCompletedEvent(int TaskScheduledId, string? Result) : HistoryEvent;

/// <summary>An activity failed.</summary>
public sealed record TaskFailedEvent(int TaskScheduledId, TaskFailureDetails FailureDetails) : HistoryEvent;

/// <summary>A sub-orchestration was started with task id <see cref="TaskId"/>.</summary>
public sealed record SubOrchestrationCreatedEvent(int TaskId, string Name, string InstanceId, string? Input) : HistoryEvent
{
    /// <inheritdoc/>
    public override string Describe() => $"CallSubOrchestrator({this.Name})";
}

/// <summary>A sub-orchestration finished.</summary>
public sealed record SubOrchestrationCompletedEvent(int TaskScheduledId, string? Result) : HistoryEvent;

/// <summary>A sub-orchestration failed.</summary>
public sealed record SubOrchestrationFailedEvent(int TaskScheduledId, TaskFailureDetails FailureDetails) : HistoryEvent;

/// <summary>A durable timer was created with task id <see cref="TaskId"/>.</summary>
public sealed record TimerCreatedEvent(int TaskId, DateTime FireAt) : HistoryEvent
{
    /// <inheritdoc/>
    public override string Describe() => $"CreateTimer({this.FireAt:O})";
}

/// <summary>A durable timer fired.</summary>
public sealed record TimerFiredEvent(int TimerId, DateTime FireAt) : HistoryEvent;

/// <summary>An external event arrived. <see cref="EventId"/> identifies it for de-duplication.</summary>
public sealed record EventRaisedEvent(string Name, string? Input, string EventId) : HistoryEvent;

/// <summary>The orchestration sent an event to another instance with task id <see cref="TaskId"/>.</summary>
public sealed record EventSentEvent(int TaskId, string InstanceId, string Name, string? Input) : HistoryEvent
{
    /// <inheritdoc/>
    public override string Describe() => $"SendEvent({this.InstanceId}, {this.Name})";
}
