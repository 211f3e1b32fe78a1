namespace Kestrel.Cloud.Durable;

/// <summary>What an activity knows about the call that started it.</summary>
public sealed class TaskActivityContext
{
    /// <summary>Creates a context.</summary>
    public TaskActivityContext(string name, string instanceId, int taskId, CancellationToken cancellationToken)
    {
        this.Name = name;
        this.InstanceId = instanceId;
        this.TaskId = taskId;
        this.CancellationToken = cancellationToken;
    }

    /// <summary>The activity name.</summary>
    public string Name { get; }

    /// <summary>The orchestration instance that scheduled the activity.</summary>
    public string InstanceId { get; }

    /// <summary>The task id within that orchestration; with <see cref="InstanceId"/> it identifies the call
    /// across retries of the same delivery, so activities can make their side effects idempotent.</summary>
    public int TaskId { get; }

    /// <summary>Cancelled when the worker shuts down; the activity is then re-run later (at-least-once).</summary>
    public CancellationToken CancellationToken { get; }
}

/// <summary>An activity: ordinary code (I/O, CPU work) called from an orchestration. Runs at least once.</summary>
public interface ITaskActivity
{
    /// <summary>The input type.</summary>
    Type InputType { get; }

    /// <summary>Runs the activity with its deserialized input and returns the output.</summary>
    Task<object?> RunAsync(TaskActivityContext context, object? input);
}

/// <summary>Base class for class-based activities.</summary>
public abstract class TaskActivity<TInput, TOutput> : ITaskActivity
{
    /// <inheritdoc/>
    Type ITaskActivity.InputType => typeof(TInput);

    /// <summary>Runs the activity.</summary>
    public abstract Task<TOutput> RunAsync(TaskActivityContext context, TInput input);

    /// <inheritdoc/>
    async Task<object?> ITaskActivity.RunAsync(TaskActivityContext context, object? input) =>
        await this.RunAsync(context, input is null ? default! : (TInput)input).ConfigureAwait(false);
}
