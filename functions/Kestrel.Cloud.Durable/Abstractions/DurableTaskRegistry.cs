using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Durable;

/// <summary>The orchestrators and activities a worker can run, by name (case-insensitive).</summary>
public sealed class DurableTaskRegistry
{
    private readonly Dictionary<string, Func<IServiceProvider, ITaskOrchestrator>> orchestrators = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Func<IServiceProvider, ITaskActivity>> activities = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The registered orchestrator names.</summary>
    public IReadOnlyCollection<string> OrchestratorNames => this.orchestrators.Keys;

    /// <summary>The registered activity names.</summary>
    public IReadOnlyCollection<string> ActivityNames => this.activities.Keys;

    /// <summary>Registers a class-based orchestrator under its class name, created per execution through DI.</summary>
    public DurableTaskRegistry AddOrchestrator<TOrchestrator>(string? name = null)
        where TOrchestrator : class, ITaskOrchestrator =>
        this.AddOrchestrator(name ?? typeof(TOrchestrator).Name, sp => ActivatorUtilities.CreateInstance<TOrchestrator>(sp));

    /// <summary>Registers an orchestrator factory.</summary>
    public DurableTaskRegistry AddOrchestrator(string name, Func<IServiceProvider, ITaskOrchestrator> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(factory);
        if (!this.orchestrators.TryAdd(name, factory))
        {
            throw new ArgumentException($"An orchestrator named '{name}' is already registered. Orchestrator names must be unique (case-insensitive).", nameof(name));
        }

        return this;
    }

    /// <summary>Registers a delegate orchestrator.</summary>
    public DurableTaskRegistry AddOrchestratorFunc<TInput, TOutput>(string name, Func<TaskOrchestrationContext, TInput, Task<TOutput>> implementation)
    {
        ArgumentNullException.ThrowIfNull(implementation);
        var o = new FuncOrchestrator<TInput, TOutput>(implementation);
        return this.AddOrchestrator(name, _ => o);
    }

    /// <summary>Registers a delegate orchestrator with no output.</summary>
    public DurableTaskRegistry AddOrchestratorFunc<TInput>(string name, Func<TaskOrchestrationContext, TInput, Task> implementation)
    {
        ArgumentNullException.ThrowIfNull(implementation);
        return this.AddOrchestratorFunc<TInput, object?>(name, async (ctx, input) =>
        {
            await implementation(ctx, input);
            return null;
        });
    }

    /// <summary>Registers a class-based activity under its class name, created per call through DI.</summary>
    public DurableTaskRegistry AddActivity<TActivity>(string? name = null)
        where TActivity : class, ITaskActivity =>
        this.AddActivity(name ?? typeof(TActivity).Name, sp => ActivatorUtilities.CreateInstance<TActivity>(sp));

    /// <summary>Registers an activity factory.</summary>
    public DurableTaskRegistry AddActivity(string name, Func<IServiceProvider, ITaskActivity> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(factory);
        if (!this.activities.TryAdd(name, factory))
        {
            throw new ArgumentException($"An activity named '{name}' is already registered. Activity names must be unique (case-insensitive).", nameof(name));
        }

        return this;
    }

    /// <summary>Registers a delegate activity.</summary>
    public DurableTaskRegistry AddActivityFunc<TInput, TOutput>(string name, Func<TaskActivityContext, TInput, Task<TOutput>> implementation)
    {
        ArgumentNullException.ThrowIfNull(implementation);
        var a = new FuncActivity<TInput, TOutput>(implementation);
        return this.AddActivity(name, _ => a);
    }

    /// <summary>Registers a synchronous delegate activity.</summary>
    public DurableTaskRegistry AddActivityFunc<TInput, TOutput>(string name, Func<TaskActivityContext, TInput, TOutput> implementation)
    {
        ArgumentNullException.ThrowIfNull(implementation);
        return this.AddActivityFunc<TInput, TOutput>(name, (ctx, input) => Task.FromResult(implementation(ctx, input)));
    }

    /// <summary>Finds an orchestrator factory.</summary>
    public bool TryGetOrchestrator(string name, [NotNullWhen(true)] out Func<IServiceProvider, ITaskOrchestrator>? factory) =>
        this.orchestrators.TryGetValue(name, out factory);

    /// <summary>Finds an activity factory.</summary>
    public bool TryGetActivity(string name, [NotNullWhen(true)] out Func<IServiceProvider, ITaskActivity>? factory) =>
        this.activities.TryGetValue(name, out factory);

    /// <summary>The registered spelling of an orchestrator name, or null.</summary>
    public string? FindOrchestratorName(string name) =>
        this.orchestrators.Keys.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));

    private sealed class FuncOrchestrator<TInput, TOutput> : TaskOrchestrator<TInput, TOutput>
    {
        private readonly Func<TaskOrchestrationContext, TInput, Task<TOutput>> implementation;

        public FuncOrchestrator(Func<TaskOrchestrationContext, TInput, Task<TOutput>> implementation) => this.implementation = implementation;

        public override Task<TOutput> RunAsync(TaskOrchestrationContext context, TInput input) => this.implementation(context, input);
    }

    private sealed class FuncActivity<TInput, TOutput> : TaskActivity<TInput, TOutput>
    {
        private readonly Func<TaskActivityContext, TInput, Task<TOutput>> implementation;

        public FuncActivity(Func<TaskActivityContext, TInput, Task<TOutput>> implementation) => this.implementation = implementation;

        public override Task<TOutput> RunAsync(TaskActivityContext context, TInput input) => this.implementation(context, input);
    }
}
