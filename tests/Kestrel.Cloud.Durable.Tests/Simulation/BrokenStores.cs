using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Simulation;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Tests.Simulation;

/// <summary>Deletes each completed activity but delivers its result to an instance that does not exist: results are lost.</summary>
internal sealed class ResultLosingStore : DelegatingOrchestrationStore
{
    public ResultLosingStore(IOrchestrationStore inner)
        : base(inner)
    {
    }

    public override Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default) =>
        this.Inner.CompleteActivityAsync(workItem, result with { InstanceId = "nowhere-" + result.InstanceId }, cancellationToken);
}

/// <summary>Delivers every activity result, success or failure, as a success with a wrong value.</summary>
internal sealed class ResultCorruptingStore : DelegatingOrchestrationStore
{
    public ResultCorruptingStore(IOrchestrationStore inner)
        : base(inner)
    {
    }

    public override Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default) =>
        this.Inner.CompleteActivityAsync(
            workItem,
            result with { Event = new TaskCompletedEvent(workItem.Request.TaskId, "-1") { Timestamp = result.Event.Timestamp } },
            cancellationToken);
}

/// <summary>Never reports when invisible work (timers, delayed retries, expiring locks) becomes visible.</summary>
internal sealed class WakeUpForgettingStore : DelegatingOrchestrationStore
{
    public WakeUpForgettingStore(IOrchestrationStore inner)
        : base(inner)
    {
    }

    public override Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default) =>
        Task.FromResult<DateTime?>(null);
}
