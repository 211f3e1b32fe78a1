namespace Kestrel.Cloud.Durable.History;

/// <summary>
/// A message for an instance's inbox: an event to apply in its next step.
/// </summary>
/// <param name="InstanceId">The instance the message is for.</param>
/// <param name="ExecutionId">The execution it belongs to, or null for any (external events, terminate, suspend).
/// A message for an older execution is dropped.</param>
/// <param name="Event">The event to apply.</param>
/// <param name="VisibleAt">Not delivered before this time (durable timers; scheduled starts). Null for now.</param>
public sealed record OrchestrationMessage(string InstanceId, string? ExecutionId, HistoryEvent Event, DateTime? VisibleAt = null);
