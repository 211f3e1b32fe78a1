using System.Runtime.CompilerServices;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable;

/// <summary>A page of results with the token for the next page (null on the last page).</summary>
public sealed record Page<T>(IReadOnlyList<T> Values, string? ContinuationToken);

/// <summary>The result of a purge.</summary>
public sealed record PurgeResult(int PurgedInstanceCount);

/// <summary>Filters for querying instances; see <see cref="DurableTaskClient.QueryInstancesAsync"/>.</summary>
public sealed record OrchestrationQuery
{
    /// <summary>Created at or after (UTC).</summary>
    public DateTimeOffset? CreatedFrom { get; init; }

    /// <summary>Created before (UTC).</summary>
    public DateTimeOffset? CreatedTo { get; init; }

    /// <summary>Only these statuses.</summary>
    public IReadOnlyCollection<OrchestrationRuntimeStatus>? Statuses { get; init; }

    /// <summary>Instance ids starting with this.</summary>
    public string? InstanceIdPrefix { get; init; }

    /// <summary>Orchestration names starting with this (case-insensitive).</summary>
    public string? NamePrefix { get; init; }

    /// <summary>Page size, 1 to 1000. The default value is 100.</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>Include inputs, outputs and custom status.</summary>
    public bool FetchInputsAndOutputs { get; init; }

    /// <summary>The token of the previous page.</summary>
    public string? ContinuationToken { get; init; }
}

/// <summary>
/// Starts, queries and controls orchestration instances. Works from any process that can reach the store;
/// waits are signalled in-process and polled (bounded back-off) for changes made elsewhere.
/// </summary>
public class DurableTaskClient
{
    /// <summary>Longest instance id accepted.</summary>
    public const int MaxInstanceIdLength = 256;

    private static readonly TimeSpan MaxWaitPoll = TimeSpan.FromSeconds(1);
    private readonly IOrchestrationStore store;
    private readonly DurableTaskRegistry? registry;
    private readonly DurableTaskOptions options;
    private readonly TimeProvider timeProvider;

    /// <summary>Creates a client. With a <paramref name="registry"/>, unknown orchestration names are refused up front.</summary>
    public DurableTaskClient(IOrchestrationStore store, IOptions<DurableTaskOptions> options, TimeProvider? timeProvider = null, DurableTaskRegistry? registry = null)
    {
        this.store = store;
        this.options = options.Value;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.registry = registry;
    }

    /// <summary>For mocking.</summary>
    protected DurableTaskClient()
    {
        this.store = null!;
        this.options = new DurableTaskOptions();
        this.timeProvider = TimeProvider.System;
    }

    private DateTime Now => this.timeProvider.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Schedules a new instance and returns its id. Throws <see cref="TaskNotRegisteredException"/> for an
    /// unknown name (when the client knows the registry), <see cref="OrchestrationAlreadyExistsException"/>
    /// when the id is in use by an unfinished instance, <see cref="PayloadTooLargeException"/> for oversized input.
    /// </summary>
    public virtual async Task<string> ScheduleNewOrchestrationInstanceAsync(
        string orchestratorName, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(orchestratorName);
        string name = orchestratorName;
        if (this.registry is not null)
        {
            name = this.registry.FindOrchestratorName(orchestratorName)
                ?? throw new TaskNotRegisteredException("orchestrator", orchestratorName, this.registry.OrchestratorNames);
        }

        string instanceId = options?.InstanceId ?? Guid.NewGuid().ToString("N");
        ValidateInstanceId(instanceId);
        string? serialized = this.Serialize(input, "orchestration input");
        var started = new ExecutionStartedEvent(name, serialized, Guid.NewGuid().ToString("N")) { Timestamp = this.Now };
        await this.store.CreateInstanceAsync(
            new OrchestrationMessage(instanceId, started.ExecutionId, started, options?.StartAt?.UtcDateTime),
            cancellationToken).ConfigureAwait(false);
        return instanceId;
    }

    /// <summary>Reads an instance, or null if it does not exist.</summary>
    public virtual async Task<OrchestrationMetadata?> GetInstanceAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        InstanceRecord? record = await this.store.GetInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
        return record?.ToMetadata(getInputsAndOutputs, this.options.DataConverter);
    }

    /// <summary>Reads the history of an instance's current execution.</summary>
    public virtual Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default) =>
        this.store.GetHistoryAsync(instanceId, cancellationToken);

    /// <summary>One page of instances.</summary>
    public virtual async Task<Page<OrchestrationMetadata>> QueryInstancesAsync(OrchestrationQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        InstanceQueryResult result = await this.store.QueryInstancesAsync(
            new InstanceQuery
            {
                Statuses = query.Statuses,
                InstanceIdPrefix = query.InstanceIdPrefix,
                NamePrefix = query.NamePrefix,
                CreatedFrom = query.CreatedFrom?.UtcDateTime,
                CreatedTo = query.CreatedTo?.UtcDateTime,
                PageSize = QueryPaging.ValidatePageSize(query.PageSize),
                ContinuationToken = query.ContinuationToken,
            },
            cancellationToken).ConfigureAwait(false);
        return new Page<OrchestrationMetadata>(
            result.Instances.Select(r => r.ToMetadata(query.FetchInputsAndOutputs, this.options.DataConverter)).ToList(),
            result.ContinuationToken);
    }

    /// <summary>Every instance matching the query, page by page.</summary>
    public virtual async IAsyncEnumerable<OrchestrationMetadata> GetAllInstancesAsync(
        OrchestrationQuery? query = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        query ??= new OrchestrationQuery();
        while (true)
        {
            Page<OrchestrationMetadata> page = await this.QueryInstancesAsync(query, cancellationToken).ConfigureAwait(false);
            foreach (OrchestrationMetadata m in page.Values)
            {
                yield return m;
            }

            if (page.ContinuationToken is null)
            {
                yield break;
            }

            query = query with { ContinuationToken = page.ContinuationToken };
        }
    }

    /// <summary>Waits until the instance has left Pending; throws <see cref="OrchestrationNotFoundException"/> if it does not exist.</summary>
    public virtual Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default) =>
        this.WaitForAsync(instanceId, getInputsAndOutputs, s => s != OrchestrationRuntimeStatus.Pending, cancellationToken);

    /// <summary>Waits until the instance is Completed, Failed or Terminated.</summary>
    public virtual Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellationToken = default) =>
        this.WaitForAsync(instanceId, getInputsAndOutputs, s => s.IsTerminal(), cancellationToken);

    /// <summary>Sends an external event; throws <see cref="OrchestrationNotFoundException"/> if the instance does not exist.</summary>
    public virtual Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        string? serialized = this.Serialize(eventPayload, $"payload of event '{eventName}'");
        var ev = new EventRaisedEvent(eventName, serialized, Guid.NewGuid().ToString("N")) { Timestamp = this.Now };
        return this.store.SendMessageAsync(new OrchestrationMessage(instanceId, null, ev), cancellationToken);
    }

    /// <summary>Terminates a running instance; <paramref name="output"/> becomes its output. No effect on a finished one.</summary>
    public virtual Task TerminateInstanceAsync(string instanceId, object? output = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        this.Serialize(output, "termination reason");
        var ev = new ExecutionTerminatedEvent(output?.ToString()) { Timestamp = this.Now };
        return this.store.SendMessageAsync(new OrchestrationMessage(instanceId, null, ev), cancellationToken);
    }

    /// <summary>Suspends an instance: it keeps receiving messages but applies none until resumed.</summary>
    public virtual Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        var ev = new ExecutionSuspendedEvent(reason) { Timestamp = this.Now };
        return this.store.SendMessageAsync(new OrchestrationMessage(instanceId, null, ev), cancellationToken);
    }

    /// <summary>Resumes a suspended instance; the messages it received meanwhile are applied in order.</summary>
    public virtual Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        var ev = new ExecutionResumedEvent(reason) { Timestamp = this.Now };
        return this.store.SendMessageAsync(new OrchestrationMessage(instanceId, null, ev), cancellationToken);
    }

    /// <summary>Deletes a finished instance and its history. Throws <see cref="InvalidOperationException"/> if it is still running.</summary>
    public virtual async Task<PurgeResult> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        bool purged = await this.store.PurgeInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
        return new PurgeResult(purged ? 1 : 0);
    }

    /// <summary>Deletes every finished instance matching the filter.</summary>
    public virtual async Task<PurgeResult> PurgeAllInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return new PurgeResult(await this.store.PurgeInstancesAsync(filter, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the rule when an instance id is not acceptable.</summary>
    public static void ValidateInstanceId(string instanceId)
    {
        if (string.IsNullOrWhiteSpace(instanceId) || instanceId.Length > MaxInstanceIdLength
            || instanceId.Any(c => char.IsControl(c) || c is '/' or '\\' or '#' or '?'))
        {
            throw new ArgumentException(
                $"The instance id '{Truncate(instanceId)}' is not valid: it must be 1 to {MaxInstanceIdLength} characters with no control characters, spaces only, or '/', '\\', '#', '?'.",
                nameof(instanceId));
        }
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";

    private string? Serialize(object? value, string what)
    {
        string? serialized = this.options.DataConverter.Serialize(value);
        PayloadLimits.Check(what, serialized, this.options.MaxPayloadSizeBytes);
        return serialized;
    }

    private async Task<OrchestrationMetadata> WaitForAsync(
        string instanceId, bool getInputsAndOutputs, Func<OrchestrationRuntimeStatus, bool> done, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        TimeSpan poll = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            Task changed = this.store.Signals.WhenInstanceChanged(instanceId);
            // While waiting, read only the status (an instance changes many times before it is done); the inputs and
            // outputs are read once, at the end.
            OrchestrationMetadata metadata = await this.GetInstanceAsync(instanceId, getInputsAndOutputs: false, cancellationToken).ConfigureAwait(false)
                ?? throw new OrchestrationNotFoundException(instanceId);
            if (done(metadata.RuntimeStatus))
            {
                if (!getInputsAndOutputs)
                {
                    return metadata;
                }

                OrchestrationMetadata full = await this.GetInstanceAsync(instanceId, getInputsAndOutputs: true, cancellationToken).ConfigureAwait(false)
                    ?? throw new OrchestrationNotFoundException(instanceId);
                if (done(full.RuntimeStatus))
                {
                    return full;
                }

                // Changed again between the two reads (restarted, say): keep waiting.
                continue;
            }

            // Signalled for changes made in this process; the poll catches changes made elsewhere.
            await Task.WhenAny(changed, Task.Delay(poll, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            poll = TimeSpan.FromTicks(Math.Min(poll.Ticks * 2, MaxWaitPoll.Ticks));
        }
    }
}
