namespace Kestrel.Cloud.Durable;

/// <summary>
/// Thrown into orchestrator code when an activity or a sub-orchestration it awaited failed.
/// <see cref="FailureDetails"/> carries the error type and message of the original failure.
/// </summary>
public sealed class TaskFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TaskFailedException(string taskName, int taskId, TaskFailureDetails failureDetails)
        : base($"Task '{taskName}' (#{taskId}) failed with an unhandled exception: {failureDetails.ErrorMessage}")
    {
        this.TaskName = taskName;
        this.TaskId = taskId;
        this.FailureDetails = failureDetails;
    }

    /// <summary>The activity or sub-orchestration name.</summary>
    public string TaskName { get; }

    /// <summary>The sequence number of the task within its orchestration.</summary>
    public int TaskId { get; }

    /// <summary>What failed.</summary>
    public TaskFailureDetails FailureDetails { get; }
}

/// <summary>
/// Orchestrator code issued a different action on replay than its history recorded. The instance fails:
/// orchestrator code must be deterministic (see docs/durable-engine.md, "Determinism rules").
/// </summary>
public sealed class NonDeterministicOrchestrationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NonDeterministicOrchestrationException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// Orchestrator code awaited a task that is not durable (Task.Delay, Task.Run, I/O). The instance fails.
/// </summary>
public sealed class NonDurableTaskAwaitedException : Exception
{
    /// <summary>The message used for every detection, naming what to use instead.</summary>
    public const string DefaultMessage =
        "The orchestrator awaited a task that is not durable (for example Task.Delay, Task.Run, a lock or I/O). " +
        "Orchestrator code may only await tasks returned by the TaskOrchestrationContext: use context.CreateTimer instead of Task.Delay, " +
        "and move I/O and CPU-bound work into an activity called with context.CallActivityAsync.";

    /// <summary>Creates the exception.</summary>
    public NonDurableTaskAwaitedException()
        : base(DefaultMessage)
    {
    }
}

/// <summary>A payload (input, output, event data, custom status) is larger than the configured limit.</summary>
public sealed class PayloadTooLargeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PayloadTooLargeException(string what, long sizeBytes, long maxSizeBytes)
        : base($"The {what} is {sizeBytes} bytes, over the limit of {maxSizeBytes} bytes (DurableTaskOptions.MaxPayloadSizeBytes). " +
               "Pass a reference (a blob name, a row id) instead of the data itself, or raise the limit.")
    {
        this.SizeBytes = sizeBytes;
        this.MaxSizeBytes = maxSizeBytes;
    }

    /// <summary>The size that was rejected.</summary>
    public long SizeBytes { get; }

    /// <summary>The limit.</summary>
    public long MaxSizeBytes { get; }
}

/// <summary>An instance with the requested id already exists and has not finished.</summary>
public sealed class OrchestrationAlreadyExistsException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public OrchestrationAlreadyExistsException(string instanceId, OrchestrationRuntimeStatus status)
        : base($"An orchestration instance with id '{instanceId}' already exists and is {status}. " +
               "Choose another instance id, or wait for it to finish (or terminate and purge it) before reusing the id.")
    {
        this.InstanceId = instanceId;
        this.Status = status;
    }

    /// <summary>The instance id.</summary>
    public string InstanceId { get; }

    /// <summary>The status of the existing instance.</summary>
    public OrchestrationRuntimeStatus Status { get; }
}

/// <summary>No instance with the given id exists.</summary>
public sealed class OrchestrationNotFoundException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public OrchestrationNotFoundException(string instanceId)
        : base($"No orchestration instance with id '{instanceId}' exists. Check the id, or list instances to find it.")
    {
        this.InstanceId = instanceId;
    }

    /// <summary>The instance id.</summary>
    public string InstanceId { get; }
}

/// <summary>The orchestration or activity name is not registered with the worker.</summary>
public sealed class TaskNotRegisteredException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public TaskNotRegisteredException(string kind, string name, IEnumerable<string> registered)
        : base($"No {kind} named '{name}' is registered. Registered {kind}s: {FormatNames(registered)}.")
    {
        this.Name = name;
    }

    /// <summary>The name that was not found.</summary>
    public string Name { get; }

    private static string FormatNames(IEnumerable<string> names)
    {
        var list = names.OrderBy(n => n, StringComparer.Ordinal).ToList();
        return list.Count == 0 ? "(none)" : string.Join(", ", list);
    }
}

/// <summary>A store operation lost a race: the instance or work item was changed or re-locked by someone else.</summary>
public sealed class StoreConcurrencyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StoreConcurrencyException(string message)
        : base(message)
    {
    }
}
