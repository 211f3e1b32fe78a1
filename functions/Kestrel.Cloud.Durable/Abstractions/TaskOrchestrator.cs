namespace Kestrel.Cloud.Durable;

/// <summary>
/// An orchestrator: code replayed from history. Rules (docs/durable-engine.md, "Determinism rules"):
/// <list type="bullet">
/// <item>Await only tasks returned by the <see cref="TaskOrchestrationContext"/> (activities, timers, events, sub-orchestrations).</item>
/// <item>Use <see cref="TaskOrchestrationContext.CurrentUtcDateTime"/> instead of <c>DateTime.UtcNow</c>,
/// <see cref="TaskOrchestrationContext.NewGuid"/> instead of <c>Guid.NewGuid</c>.</item>
/// <item>No I/O, no environment variables, no random numbers, no static mutable state: do those in activities.</item>
/// </list>
/// </summary>
public interface ITaskOrchestrator
{
    /// <summary>The input type.</summary>
    Type InputType { get; }

    /// <summary>Runs the orchestrator with its deserialized input.</summary>
    Task<object?> RunAsync(TaskOrchestrationContext context, object? input);
}

/// <summary>Base class for class-based orchestrators. See <see cref="ITaskOrchestrator"/> for the rules.</summary>
public abstract class TaskOrchestrator<TInput, TOutput> : ITaskOrchestrator
{
    /// <inheritdoc/>
    Type ITaskOrchestrator.InputType => typeof(TInput);

    /// <summary>Runs the orchestrator.</summary>
    public abstract Task<TOutput> RunAsync(TaskOrchestrationContext context, TInput input);

    /// <inheritdoc/>
    async Task<object?> ITaskOrchestrator.RunAsync(TaskOrchestrationContext context, object? input) =>
        await this.RunAsync(context, input is null ? default! : (TInput)input);
}
