namespace Kestrel.Cloud.Durable;

/// <summary>The runtime status of an orchestration instance.</summary>
public enum OrchestrationRuntimeStatus
{
    /// <summary>Scheduled, not yet started by a worker.</summary>
    Pending = 0,

    /// <summary>Started and not finished; it may be waiting for an activity, timer or event.</summary>
    Running = 1,

    /// <summary>Finished with an output.</summary>
    Completed = 2,

    /// <summary>Restarted itself with new input and an empty history (transient).</summary>
    ContinuedAsNew = 3,

    /// <summary>Finished with an unhandled failure; see <see cref="OrchestrationMetadata.FailureDetails"/>.</summary>
    Failed = 4,

    /// <summary>Stopped by <c>TerminateInstanceAsync</c>.</summary>
    Terminated = 5,

    /// <summary>Paused by <c>SuspendInstanceAsync</c>; messages are kept until it is resumed.</summary>
    Suspended = 6,
}

/// <summary>Helpers over <see cref="OrchestrationRuntimeStatus"/>.</summary>
public static class OrchestrationRuntimeStatusExtensions
{
    /// <summary>True for Completed, Failed and Terminated: states an instance never leaves by itself.</summary>
    public static bool IsTerminal(this OrchestrationRuntimeStatus status) =>
        status is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated;
}
