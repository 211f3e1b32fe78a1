using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.Replay;

/// <summary>Something orchestrator code asked for: recorded in history once, matched on replay.</summary>
internal abstract record PendingAction(int TaskId)
{
    /// <summary>The history event that records the action.</summary>
    public abstract HistoryEvent ToHistoryEvent(DateTime timestamp);

    /// <summary>A short description for non-determinism errors.</summary>
    public abstract string Describe();

    /// <summary>True when <paramref name="recorded"/> records this action.</summary>
    public abstract bool Matches(HistoryEvent recorded);
}

internal sealed record ScheduleActivityAction(int TaskId, string Name, string? Input) : PendingAction(TaskId)
{
    public override HistoryEvent ToHistoryEvent(DateTime timestamp) => new TaskScheduledEvent(this.TaskId, this.Name, this.Input) { Timestamp = timestamp };

    public override string Describe() => $"CallActivity({this.Name})";

    public override bool Matches(HistoryEvent recorded) =>
        recorded is TaskScheduledEvent e && string.Equals(e.Name, this.Name, StringComparison.OrdinalIgnoreCase);
}

internal sealed record CreateTimerAction(int TaskId, DateTime FireAt) : PendingAction(TaskId)
{
    public override HistoryEvent ToHistoryEvent(DateTime timestamp) => new TimerCreatedEvent(this.TaskId, this.FireAt) { Timestamp = timestamp };

    public override string Describe() => $"CreateTimer({this.FireAt:O})";

    public override bool Matches(HistoryEvent recorded) => recorded is TimerCreatedEvent;
}

internal sealed record CreateSubOrchestrationAction(int TaskId, string Name, string InstanceId, string? Input) : PendingAction(TaskId)
{
    public override HistoryEvent ToHistoryEvent(DateTime timestamp) => new SubOrchestrationCreatedEvent(this.TaskId, this.Name, this.InstanceId, this.Input) { Timestamp = timestamp };

    public override string Describe() => $"CallSubOrchestrator({this.Name})";

    public override bool Matches(HistoryEvent recorded) =>
        recorded is SubOrchestrationCreatedEvent e && string.Equals(e.Name, this.Name, StringComparison.OrdinalIgnoreCase);
}

internal sealed record SendEventAction(int TaskId, string InstanceId, string Name, string? Input) : PendingAction(TaskId)
{
    public override HistoryEvent ToHistoryEvent(DateTime timestamp) => new EventSentEvent(this.TaskId, this.InstanceId, this.Name, this.Input) { Timestamp = timestamp };

    public override string Describe() => $"SendEvent({this.InstanceId}, {this.Name})";

    public override bool Matches(HistoryEvent recorded) =>
        recorded is EventSentEvent e && string.Equals(e.Name, this.Name, StringComparison.OrdinalIgnoreCase)
        && string.Equals(e.InstanceId, this.InstanceId, StringComparison.Ordinal);
}
