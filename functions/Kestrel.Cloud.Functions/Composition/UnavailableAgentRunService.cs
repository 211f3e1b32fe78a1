using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Http;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>
/// PLACEHOLDER, to be removed once the agent engine exists: the run service registered when nothing else registered an
/// <see cref="IAgentRunService"/>. The real one (the <c>AgentTurn</c> orchestration's <c>AgentRunService</c>) is
/// registered by <c>services.AddKestrelAgents(configuration)</c> before <c>AddAgentsApi</c>, which only TryAdds this.
/// Every start answers 503: <c>provider-not-configured</c> (naming the variables to set) when no model provider is
/// configured, else <c>agent-engine-unavailable</c>. There are never any runs, so reads find nothing.
/// </summary>
public sealed class UnavailableAgentRunService : IAgentRunService
{
    private readonly ProviderStatus providers;

    /// <summary>Creates the placeholder.</summary>
    public UnavailableAgentRunService(ProviderStatus providers) => this.providers = providers;

    /// <inheritdoc />
    public Task<RunInfo> StartAsync(StartRunRequest request, CancellationToken cancellationToken = default)
    {
        if (!this.providers.IsConfigured)
        {
            throw ChatClientFactory.NotConfigured(null);
        }

        throw new ApiProblemException(
            StatusCodes.Status503ServiceUnavailable,
            ProblemCodes.AgentEngineUnavailable,
            "This server has no agent engine registered, so it cannot run agents yet. Agents, sessions and the rest of the API work; messages need a build that registers the engine (services.AddKestrelAgents).");
    }

    /// <inheritdoc />
    public Task<RunInfo?> GetAsync(string runId, CancellationToken cancellationToken = default) => Task.FromResult<RunInfo?>(null);

    /// <inheritdoc />
    public Task<(IReadOnlyList<RunInfo> Runs, string? ContinuationToken)> ListAsync(string? agent, RunStatus? status, int pageSize = 50, string? continuationToken = null, CancellationToken cancellationToken = default) =>
        Task.FromResult<(IReadOnlyList<RunInfo>, string?)>((Array.Empty<RunInfo>(), null));

    /// <inheritdoc />
    public Task<RunInfo> WaitForCompletionAsync(string runId, CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException($"The run {runId} does not exist: no agent engine is registered.");

    /// <inheritdoc />
    public Task<bool> CancelAsync(string runId, string? reason = null, CancellationToken cancellationToken = default) => Task.FromResult(false);

    /// <inheritdoc />
    public Task<ApprovalOutcome> DecideAsync(string runId, string callId, ApprovalDecision decision, CancellationToken cancellationToken = default) =>
        Task.FromResult(ApprovalOutcome.RunNotFound);
}
