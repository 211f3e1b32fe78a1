using Kestrel.Cloud.Durable.History;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Durable.Replay;

/// <summary>The context handed to orchestrator code; every durable call goes through the executor.</summary>
internal sealed class OrchestrationContextImpl : TaskOrchestrationContext
{
    private readonly OrchestrationExecutor executor;

    public OrchestrationContextImpl(OrchestrationExecutor executor)
    {
        this.executor = executor;
    }

    public override string Name => this.executor.Started?.Name ?? string.Empty;

    public override string InstanceId => this.executor.InstanceId;

    public override string? ParentInstanceId => this.executor.Started?.Parent?.InstanceId;

    public override bool IsReplaying => this.executor.IsReplaying;

    public override DateTime CurrentUtcDateTime => this.executor.CurrentUtcDateTime;

    public override Task<TResult> CallActivityAsync<TResult>(string name, object? input = null, TaskOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        string? serialized = this.SerializeInput(input, $"input of activity '{name}'");
        return this.WithRetry(options?.Retry, () => this.CallActivityOnce<TResult>(name, serialized));
    }

    public override Task<TResult> CallSubOrchestratorAsync<TResult>(string orchestratorName, object? input = null, TaskOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(orchestratorName);
        string? serialized = this.SerializeInput(input, $"input of sub-orchestration '{orchestratorName}'");
        string instanceId = (options as SubOrchestrationOptions)?.InstanceId ?? this.NewGuid().ToString("N");
        return this.WithRetry(options?.Retry, () => this.CallSubOrchestratorOnce<TResult>(orchestratorName, instanceId, serialized));
    }

    public override Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken)
    {
        if (fireAt.Kind == DateTimeKind.Local)
        {
            fireAt = fireAt.ToUniversalTime();
        }

        int id = this.executor.NextTaskId();
        var open = this.executor.AddAction(new CreateTimerAction(id, DateTime.SpecifyKind(fireAt, DateTimeKind.Utc)), "timer");
        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.Register(() => open.Completion.TrySetCanceled(cancellationToken));
        }

        return open.Completion.Task;
    }

    public override async Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        string? raw = await this.executor.WaitForEvent(eventName, cancellationToken);
        return this.executor.Converter.Deserialize<T>(raw)!;
    }

    public override void SendEvent(string instanceId, string eventName, object? payload)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        string? serialized = this.SerializeInput(payload, $"payload of event '{eventName}'");
        int id = this.executor.NextTaskId();
        this.executor.AddFireAndForget(new SendEventAction(id, instanceId, eventName, serialized));
    }

    public override void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = true)
    {
        this.executor.EnsureOnStepThread();
        string? serialized = this.SerializeInput(newInput, "ContinueAsNew input");
        this.executor.ContinueAsNewRequest = (serialized, preserveUnprocessedEvents);
    }

    public override void SetCustomStatus(object? customStatus)
    {
        this.executor.EnsureOnStepThread();
        string? serialized = this.executor.Converter.Serialize(customStatus);
        PayloadLimits.Check("custom status", serialized, this.executor.Options.MaxCustomStatusSizeBytes);
        this.executor.CustomStatus = serialized;
    }

    public override Guid NewGuid()
    {
        this.executor.EnsureOnStepThread();
        return this.executor.NewGuid();
    }

    public override T? GetInput<T>() where T : default => this.executor.Converter.Deserialize<T>(this.executor.Started?.Input);

    public override ILogger CreateReplaySafeLogger(string categoryName) =>
        new ReplaySafeLogger(this, this.executor.LoggerFactory.CreateLogger(categoryName));

    private async Task<TResult> CallActivityOnce<TResult>(string name, string? input)
    {
        int id = this.executor.NextTaskId();
        var open = this.executor.AddAction(new ScheduleActivityAction(id, name, input), name);
        string? raw = await open.Completion.Task;
        return this.executor.Converter.Deserialize<TResult>(raw)!;
    }

    private async Task<TResult> CallSubOrchestratorOnce<TResult>(string name, string instanceId, string? input)
    {
        int id = this.executor.NextTaskId();
        var open = this.executor.AddAction(new CreateSubOrchestrationAction(id, name, instanceId, input), name);
        string? raw = await open.Completion.Task;
        return this.executor.Converter.Deserialize<TResult>(raw)!;
    }

    private async Task<TResult> WithRetry<TResult>(RetryPolicy? policy, Func<Task<TResult>> attempt)
    {
        if (policy is null)
        {
            return await attempt();
        }

        DateTime firstAttemptAt = this.CurrentUtcDateTime;
        for (int n = 1; ; n++)
        {
            try
            {
                return await attempt();
            }
            catch (TaskFailedException ex) when (n < policy.MaxNumberOfAttempts && (policy.HandleFailure?.Invoke(ex.FailureDetails) ?? true))
            {
                TimeSpan delay = policy.GetDelayBeforeAttempt(n + 1);
                if (policy.RetryTimeout != Timeout.InfiniteTimeSpan && this.CurrentUtcDateTime + delay - firstAttemptAt > policy.RetryTimeout)
                {
                    throw;
                }

                await this.CreateTimer(delay, CancellationToken.None);
            }
        }
    }

    private string? SerializeInput(object? value, string what)
    {
        this.executor.EnsureOnStepThread();
        string? serialized = this.executor.Converter.Serialize(value);
        PayloadLimits.Check(what, serialized, this.executor.Options.MaxPayloadSizeBytes);
        return serialized;
    }

    private sealed class ReplaySafeLogger : ILogger
    {
        private readonly TaskOrchestrationContext context;
        private readonly ILogger inner;

        public ReplaySafeLogger(TaskOrchestrationContext context, ILogger inner)
        {
            this.context = context;
            this.inner = inner;
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => this.inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => !this.context.IsReplaying && this.inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!this.context.IsReplaying)
            {
                this.inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
