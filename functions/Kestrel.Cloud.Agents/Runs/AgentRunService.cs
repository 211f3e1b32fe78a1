using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Providers.Usage;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Turns;
using Kestrel.Cloud.Durable;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Runs;

/// <summary>
/// <see cref="IAgentRunService"/> over the engine's <see cref="DurableTaskClient"/>: a run is an <c>AgentTurn</c>
/// instance whose id is <c>run.{agent}.{32 hex}</c> (sub-agent runs: <c>{parent}.s{n}</c>). Its state comes from the
/// instance status, the turn's custom status (<see cref="TurnStatus"/>) and output (<see cref="TurnResult"/>).
/// </summary>
public sealed class AgentRunService : IAgentRunService
{
    /// <summary>The prefix of every run id.</summary>
    public const string RunIdPrefix = "run.";

    private const int MaxChildDepth = 6;
    private readonly DurableTaskClient client;
    private readonly IAgentWorkspace workspace;
    private readonly ChatClientFactory models;
    private readonly AgentRuntimeOptions options;
    private readonly IApprovalLinkFactory? links;
    private readonly IRunEventLog? events;
    private readonly ILogger logger;

    /// <summary>
    /// Creates the service; <paramref name="services"/> supplies the optional <see cref="IApprovalLinkFactory"/>, the
    /// optional <see cref="IRunEventLog"/> (read while a run is finishing) and logging.
    /// </summary>
    public AgentRunService(DurableTaskClient client, IAgentWorkspace workspace, ChatClientFactory models, IOptions<AgentRuntimeOptions> options, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        this.client = client;
        this.workspace = workspace;
        this.models = models;
        this.options = options.Value;
        this.links = services.GetService<IApprovalLinkFactory>();
        this.events = services.GetService<IRunEventLog>();
        this.logger = services.GetService<ILoggerFactory>()?.CreateLogger("Kestrel.Cloud.Agents.Runs") ?? NullLogger.Instance;
    }

    /// <summary>A new top-level run id for <paramref name="agent"/>.</summary>
    public static string NewRunId(string agent) => $"{RunIdPrefix}{agent}.{Guid.NewGuid():N}";

    /// <inheritdoc/>
    public async Task<RunInfo> StartAsync(StartRunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        AgentName.Validate(request.Agent, nameof(request.Agent));
        if (string.IsNullOrWhiteSpace(request.Message))
        {
            throw new ArgumentException("The message is empty; say what the agent should do.", nameof(request));
        }

        int size = Encoding.UTF8.GetByteCount(request.Message);
        if (size > this.options.MaxMessageSizeBytes)
        {
            throw new ArgumentException(
                $"The message has {size} bytes; a message may have at most {this.options.MaxMessageSizeBytes} (KestrelCloud:Agents:MaxMessageSizeBytes). Put long material in a file the agent can read.",
                nameof(request));
        }

        string sessionKey = request.SessionKey ?? SessionKeys.Default;
        SessionKeys.Validate(sessionKey);
        AgentDefinition agent = await this.workspace.GetAgentAsync(request.Agent, cancellationToken).ConfigureAwait(false)
            ?? throw AgentWorkspaceException.NotFound(request.Agent);

        // Throws ProviderNotConfiguredException naming the environment variables when the agent's provider is missing.
        using (IChatClient probe = this.models.CreateChatClient(agent.Provider, agent.Model))
        {
        }

        string runId = NewRunId(agent.Name);
        await this.client.ScheduleNewOrchestrationInstanceAsync(
            AgentTurnNames.Orchestration, new TurnInput(runId, agent.Name, request.Message, sessionKey), new StartOrchestrationOptions(runId), cancellationToken).ConfigureAwait(false);
        return await this.GetAsync(runId, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The run {runId} was scheduled but cannot be read back.");
    }

    /// <inheritdoc/>
    public async Task<RunInfo?> GetAsync(string runId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        OrchestrationMetadata? metadata = await this.GetRunInstanceAsync(runId, cancellationToken).ConfigureAwait(false);
        return metadata is null ? null : await this.MapAsync(metadata, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<(IReadOnlyList<RunInfo> Runs, string? ContinuationToken)> ListAsync(
        string? agent, RunStatus? status, int pageSize = 50, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        if (agent is not null)
        {
            AgentName.Validate(agent, nameof(agent));
        }

        var query = new OrchestrationQuery
        {
            InstanceIdPrefix = agent is null ? RunIdPrefix : $"{RunIdPrefix}{agent}.",
            NamePrefix = AgentTurnNames.Orchestration,
            Statuses = status is { } s ? InstanceStatuses(s) : null,
            PageSize = pageSize,
            FetchInputsAndOutputs = true,
            ContinuationToken = continuationToken,
        };
        Page<OrchestrationMetadata> page = await this.client.QueryInstancesAsync(query, cancellationToken).ConfigureAwait(false);
        var runs = new List<RunInfo>();
        foreach (OrchestrationMetadata m in page.Values.Where(m => string.Equals(m.Name, AgentTurnNames.Orchestration, StringComparison.OrdinalIgnoreCase)))
        {
            RunInfo info = await this.MapAsync(m, MaxChildDepth, cancellationToken).ConfigureAwait(false);
            if (status is null || info.Status == status)
            {
                runs.Add(info);
            }
        }

        return (runs.OrderByDescending(r => r.CreatedAt).ToList(), page.ContinuationToken);
    }

    /// <inheritdoc/>
    public async Task<RunInfo> WaitForCompletionAsync(string runId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        OrchestrationMetadata metadata = await this.client.WaitForInstanceCompletionAsync(runId, getInputsAndOutputs: true, cancellationToken).ConfigureAwait(false);
        return await this.MapAsync(metadata, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<bool> CancelAsync(string runId, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        OrchestrationMetadata? metadata = await this.GetRunInstanceAsync(runId, cancellationToken).ConfigureAwait(false);
        if (metadata is null || metadata.IsCompleted
            || (ReadStatus(metadata)?.Phase == "finishing" && await this.ReadFinishedAsync(runId, cancellationToken).ConfigureAwait(false) is not null))
        {
            // Finished, or finishing with run.finished already in the log: there is nothing left to cancel.
            return false;
        }

        await this.client.RaiseEventAsync(runId, AgentTurnNames.CancelEvent, new CancelRequest(reason), cancellationToken).ConfigureAwait(false);
        Log.CancelRequested(this.logger, runId, reason);
        return true;
    }

    /// <inheritdoc/>
    public Task<ApprovalOutcome> DecideAsync(string runId, string callId, ApprovalDecision decision, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentException.ThrowIfNullOrEmpty(callId);
        ArgumentNullException.ThrowIfNull(decision);
        return this.DecideAsync(runId, callId, decision, 0, cancellationToken);
    }

    private static IReadOnlyCollection<OrchestrationRuntimeStatus> InstanceStatuses(RunStatus status) => status switch
    {
        RunStatus.Pending => new[] { OrchestrationRuntimeStatus.Pending },
        RunStatus.Running or RunStatus.WaitingForApproval => new[] { OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Suspended },
        RunStatus.Completed => new[] { OrchestrationRuntimeStatus.Completed },
        RunStatus.Failed => new[] { OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed },
        _ => new[] { OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Terminated },
    };

    private static RunUsage ToRunUsage(ProviderUsage? usage) => usage is null
        ? RunUsage.Zero
        : new RunUsage(usage.InputTokens, usage.OutputTokens, usage.CachedInputTokens, usage.Calls == 0 || usage.UnpricedCalls == usage.Calls ? null : usage.CostUsd);

    private async Task<ApprovalOutcome> DecideAsync(string runId, string callId, ApprovalDecision decision, int depth, CancellationToken cancellationToken)
    {
        OrchestrationMetadata? metadata = await this.GetRunInstanceAsync(runId, cancellationToken).ConfigureAwait(false);
        if (metadata is null)
        {
            return ApprovalOutcome.RunNotFound;
        }

        if (metadata.IsCompleted || ReadStatus(metadata) is not { } status)
        {
            return ApprovalOutcome.NotPending;
        }

        if (status.PendingApprovals.Any(p => p.CallId == callId))
        {
            await this.client.RaiseEventAsync(runId, AgentTurnNames.ApprovalEvent(callId), decision, cancellationToken).ConfigureAwait(false);
            return ApprovalOutcome.Accepted;
        }

        // A sub-agent's calls are decided through its parent, like the parent's own.
        if (depth < MaxChildDepth)
        {
            foreach (string child in status.ActiveChildren)
            {
                if (await this.DecideAsync(child, callId, decision, depth + 1, cancellationToken).ConfigureAwait(false) == ApprovalOutcome.Accepted)
                {
                    return ApprovalOutcome.Accepted;
                }
            }
        }

        return ApprovalOutcome.NotPending;
    }

    private static TurnStatus? ReadStatus(OrchestrationMetadata metadata)
    {
        try
        {
            return metadata.SerializedCustomStatus is null ? null : metadata.ReadCustomStatusAs<TurnStatus>();
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private async Task<OrchestrationMetadata?> GetRunInstanceAsync(string runId, CancellationToken cancellationToken)
    {
        OrchestrationMetadata? metadata = await this.client.GetInstanceAsync(runId, getInputsAndOutputs: true, cancellationToken).ConfigureAwait(false);
        return metadata is not null && string.Equals(metadata.Name, AgentTurnNames.Orchestration, StringComparison.OrdinalIgnoreCase) ? metadata : null;
    }

    private async Task<RunInfo> MapAsync(OrchestrationMetadata metadata, int depth, CancellationToken cancellationToken)
    {
        TurnInput? input = metadata.ReadInputAs<TurnInput>();
        TurnStatus? status = ReadStatus(metadata);
        TurnResult? result = metadata.RuntimeStatus == OrchestrationRuntimeStatus.Completed ? metadata.ReadOutputAs<TurnResult>() : null;
        RunStatus runStatus = metadata.RuntimeStatus switch
        {
            OrchestrationRuntimeStatus.Pending => RunStatus.Pending,
            OrchestrationRuntimeStatus.Completed => result?.Status switch
            {
                "cancelled" => RunStatus.Cancelled,
                "failed" => RunStatus.Failed,
                _ => RunStatus.Completed,
            },
            OrchestrationRuntimeStatus.Failed => RunStatus.Failed,
            OrchestrationRuntimeStatus.Terminated => RunStatus.Cancelled,
            _ => status?.Phase == "waitingForApproval" ? RunStatus.WaitingForApproval : RunStatus.Running,
        };

        string? error = result?.Error;
        string? finalText = result?.FinalText;
        int? iterations = result?.Iterations;
        if (!metadata.IsCompleted && status?.Phase == "finishing" && await this.ReadFinishedAsync(metadata.InstanceId, cancellationToken).ConfigureAwait(false) is { } finished)
        {
            // run.finished is appended by the turn's last activity, one engine step before the instance completes: a
            // client that read it (the event stream closes after it) must not then see the run as still running.
            runStatus = finished.Status;
            finalText = finished.Text;
            error = finished.Error;
            iterations = finished.Iterations;
        }

        if (metadata.RuntimeStatus == OrchestrationRuntimeStatus.Failed)
        {
            error = $"The run failed unexpectedly ({metadata.FailureDetails?.ErrorType ?? "unknown error"}); the details are in the server log.";
        }

        var pending = new List<PendingApproval>();
        if (!metadata.IsCompleted && status is not null)
        {
            pending.AddRange(status.PendingApprovals.Select(p => this.ToPending(metadata.InstanceId, p)));
            if (depth < MaxChildDepth)
            {
                foreach (string child in status.ActiveChildren)
                {
                    if (await this.GetRunInstanceAsync(child, cancellationToken).ConfigureAwait(false) is { } childMetadata)
                    {
                        RunInfo childInfo = await this.MapAsync(childMetadata, depth + 1, cancellationToken).ConfigureAwait(false);
                        pending.AddRange(childInfo.PendingApprovals);
                    }
                }
            }

            if (pending.Count > 0 && runStatus == RunStatus.Running)
            {
                runStatus = RunStatus.WaitingForApproval;
            }
        }

        return new RunInfo(
            metadata.InstanceId,
            input?.Agent ?? string.Empty,
            input?.SessionKey ?? string.Empty,
            runStatus,
            metadata.CreatedAt,
            metadata.LastUpdatedAt,
            finalText,
            error,
            pending,
            ToRunUsage(result?.Usage ?? status?.Usage),
            iterations ?? status?.Step ?? 0,
            input?.ParentRunId);
    }

    // The run.finished event of a run in the finishing phase, when the Finish activity has appended it. The log is read
    // in pages from the start (it has no tail read); this happens only in the short finishing window.
    private async Task<(RunStatus Status, string? Text, string? Error, int? Iterations)?> ReadFinishedAsync(string runId, CancellationToken cancellationToken)
    {
        if (this.events is null)
        {
            return null;
        }

        await foreach (RunEvent finished in this.events.ReadAllAsync(runId, cancellationToken).ConfigureAwait(false))
        {
            if (finished.Type != RunEventTypes.Finished)
            {
                continue;
            }

            JsonElement data = finished.Data;
            RunStatus status = StringOf(data, "status") switch
            {
                "cancelled" => RunStatus.Cancelled,
                "failed" => RunStatus.Failed,
                _ => RunStatus.Completed,
            };
            int? iterations = data.TryGetProperty("iterations", out JsonElement i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : null;
            return (status, StringOf(data, "text"), StringOf(data, "error"), iterations);
        }

        return null;
    }

    private static string? StringOf(JsonElement data, string name) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private PendingApproval ToPending(string runId, TurnPendingApproval p)
    {
        (string ApproveUrl, string DenyUrl)? urls = this.links?.CreateLinks(runId, p.CallId, p.ExpiresAt);
        return new PendingApproval(p.CallId, p.Tool, p.Arguments, p.ExpiresAt, urls?.ApproveUrl, urls?.DenyUrl);
    }
}
