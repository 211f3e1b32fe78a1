using System.Text.Json;
using Kestrel.Cloud.Agents;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>One problem of an agent folder, as the API shows it (the <c>errors</c> member of <c>agent-definition-invalid</c>).</summary>
/// <param name="File">The file, e.g. <c>AGENT.md</c>.</param>
/// <param name="Location"><c>front matter</c>, <c>body</c>, or empty.</param>
/// <param name="Field">The front-matter field, e.g. <c>max_iterations</c>; null when not about a field.</param>
/// <param name="Message">The problem, the rule and the fix.</param>
/// <param name="Text">The whole line as people read it: "AGENT.md front matter: max_iterations must be ...".</param>
public sealed record AgentDefinitionErrorResponse(string File, string Location, string? Field, string Message, string Text)
{
    /// <summary>Converts the parser's errors.</summary>
    public static IReadOnlyList<AgentDefinitionErrorResponse> From(IEnumerable<AgentDefinitionError> errors) =>
        errors.Select(e => new AgentDefinitionErrorResponse(e.File, e.Location, e.Field, e.Message, e.ToString())).ToList();
}

/// <summary>An agent in a listing. An agent whose files have problems is listed with <see cref="Errors"/> and no details.</summary>
/// <param name="Name">The agent's name.</param>
/// <param name="Description">What it is for.</param>
/// <param name="Provider">Its provider, or null for the default provider.</param>
/// <param name="Model">Its model, or null for the provider's default.</param>
/// <param name="Version">Its version (ETag).</param>
/// <param name="Errors">The problems of its files; null when it is valid.</param>
public sealed record AgentSummaryResponse(string Name, string? Description, string? Provider, string? Model, string? Version, IReadOnlyList<AgentDefinitionErrorResponse>? Errors);

/// <summary>The body of <c>GET /api/agents</c>.</summary>
/// <param name="Agents">Every agent, sorted by name.</param>
public sealed record AgentListResponse(IReadOnlyList<AgentSummaryResponse> Agents);

/// <summary>The definition files of an agent.</summary>
/// <param name="AgentMarkdown">AGENT.md.</param>
/// <param name="ToolsMarkdown">TOOLS.md, or null.</param>
/// <param name="HeartbeatMarkdown">HEARTBEAT.md, or null.</param>
public sealed record AgentFilesResponse(string AgentMarkdown, string? ToolsMarkdown, string? HeartbeatMarkdown);

/// <summary>A memory file of an agent.</summary>
/// <param name="Path">Its path in the agent folder.</param>
/// <param name="Summary">Its first heading or line.</param>
/// <param name="SizeBytes">Its size.</param>
public sealed record AgentMemoryResponse(string Path, string Summary, long SizeBytes);

/// <summary>A skill of an agent.</summary>
/// <param name="Name">The skill's name.</param>
/// <param name="Description">What it does.</param>
public sealed record AgentSkillResponse(string Name, string Description);

/// <summary>The body of <c>GET /api/agents/{name}</c> (and of create and update).</summary>
public sealed record AgentResponse
{
    /// <summary>The agent's name.</summary>
    public required string Name { get; init; }

    /// <summary>The version of its definition files; also the ETag header. Send it as If-Match to update safely.</summary>
    public required string Version { get; init; }

    /// <summary>What it is for.</summary>
    public string? Description { get; init; }

    /// <summary>Its provider, or null for the default provider.</summary>
    public string? Provider { get; init; }

    /// <summary>Its model, or null for the provider's default.</summary>
    public string? Model { get; init; }

    /// <summary>Sampling temperature, or null for the provider's default.</summary>
    public double? Temperature { get; init; }

    /// <summary>Largest answer in tokens, or null for the provider's default.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>Model calls per turn.</summary>
    public required int MaxIterations { get; init; }

    /// <summary>How long one tool call may run, e.g. <c>60s</c>.</summary>
    public required string ToolTimeout { get; init; }

    /// <summary>The tool patterns the agent may use.</summary>
    public required IReadOnlyList<string> Tools { get; init; }

    /// <summary>The definition files.</summary>
    public required AgentFilesResponse Files { get; init; }

    /// <summary>The memory files.</summary>
    public required IReadOnlyList<AgentMemoryResponse> Memory { get; init; }

    /// <summary>The skills.</summary>
    public required IReadOnlyList<AgentSkillResponse> Skills { get; init; }

    /// <summary>Builds the response.</summary>
    public static AgentResponse From(AgentDefinition d) => new()
    {
        Name = d.Name,
        Version = d.Version,
        Description = d.Description,
        Provider = d.Provider,
        Model = d.Model,
        Temperature = d.Temperature,
        MaxOutputTokens = d.MaxOutputTokens,
        MaxIterations = d.MaxIterations,
        ToolTimeout = Durations.Format(d.ToolTimeout),
        Tools = d.Tools.Select(t => t.Text).ToList(),
        Files = new AgentFilesResponse(d.Files.AgentMarkdown, d.Files.ToolsMarkdown, d.Files.HeartbeatMarkdown),
        Memory = d.Memory.Select(m => new AgentMemoryResponse(m.Path, m.Summary, m.SizeBytes)).ToList(),
        Skills = d.Skills.Select(s => new AgentSkillResponse(s.Name, s.Description)).ToList(),
    };
}

/// <summary>The links of a run.</summary>
/// <param name="Status">GET: the run.</param>
/// <param name="Events">GET: the run's events (SSE, or <c>?format=json</c>).</param>
/// <param name="Cancel">POST: cancel the run.</param>
/// <param name="Approvals">POST <c>{approvals}/{callId}</c>: decide on a pending tool call (API key).</param>
public sealed record RunLinks(string Status, string Events, string Cancel, string Approvals)
{
    /// <summary>The absolute links of <paramref name="runId"/>, based on the request's scheme, host and path base.</summary>
    public static RunLinks For(HttpRequest request, string runId)
    {
        string run = $"{request.Scheme}://{request.Host}{request.PathBase}/api/runs/{Uri.EscapeDataString(runId)}";
        return new RunLinks(run, run + "/events", run + "/cancel", run + "/approvals");
    }
}

/// <summary>A tool call waiting for a human.</summary>
/// <param name="CallId">The call's id.</param>
/// <param name="Tool">The tool.</param>
/// <param name="Arguments">The arguments the model gave.</param>
/// <param name="ExpiresAt">When the approval times out (counts as a denial).</param>
/// <param name="ApproveUrl">The signed one-click approve link (works without an API key; opens a confirmation page).</param>
/// <param name="DenyUrl">The signed one-click deny link.</param>
/// <param name="DecidePostUri">POST here with an API key: <c>{"decision":"approve"|"deny","reason":"..."}</c>.</param>
public sealed record PendingApprovalResponse(string CallId, string Tool, JsonElement Arguments, DateTimeOffset ExpiresAt, string? ApproveUrl, string? DenyUrl, string DecidePostUri);

/// <summary>Tokens and cost of a run.</summary>
/// <param name="InputTokens">Prompt tokens.</param>
/// <param name="OutputTokens">Answer tokens.</param>
/// <param name="CachedInputTokens">Prompt tokens served from the provider's cache.</param>
/// <param name="CostUsd">Cost in US dollars when the price table knows the model; otherwise null.</param>
public sealed record RunUsageResponse(long InputTokens, long OutputTokens, long CachedInputTokens, decimal? CostUsd);

/// <summary>A run (<c>GET /api/runs/{id}</c>, items of a listing, the answer of a waited message).</summary>
public sealed record RunResponse
{
    /// <summary>The run id.</summary>
    public required string RunId { get; init; }

    /// <summary>The agent.</summary>
    public required string Agent { get; init; }

    /// <summary>The session key.</summary>
    public required string SessionKey { get; init; }

    /// <summary>Pending, Running, WaitingForApproval, Completed, Failed or Cancelled.</summary>
    public required RunStatus Status { get; init; }

    /// <summary>True when the status is final.</summary>
    public required bool Finished { get; init; }

    /// <summary>When the run was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public required DateTimeOffset LastUpdatedAt { get; init; }

    /// <summary>The final answer, once completed.</summary>
    public string? FinalText { get; init; }

    /// <summary>Why it failed.</summary>
    public string? Error { get; init; }

    /// <summary>Tool calls waiting for a human.</summary>
    public required IReadOnlyList<PendingApprovalResponse> PendingApprovals { get; init; }

    /// <summary>Tokens and cost so far.</summary>
    public required RunUsageResponse Usage { get; init; }

    /// <summary>Model calls so far.</summary>
    public required int Iterations { get; init; }

    /// <summary>The run that spawned this one, if any.</summary>
    public string? ParentRunId { get; init; }

    /// <summary>Where to go next.</summary>
    public required RunLinks Links { get; init; }

    /// <summary>True for Completed, Failed and Cancelled.</summary>
    public static bool IsFinal(RunStatus status) => status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled;

    /// <summary>Builds the response.</summary>
    public static RunResponse From(HttpRequest request, RunInfo run)
    {
        RunLinks links = RunLinks.For(request, run.RunId);
        return new RunResponse
        {
            RunId = run.RunId,
            Agent = run.Agent,
            SessionKey = run.SessionKey,
            Status = run.Status,
            Finished = IsFinal(run.Status),
            CreatedAt = run.CreatedAt,
            LastUpdatedAt = run.LastUpdatedAt,
            FinalText = run.FinalText,
            Error = run.Error,
            PendingApprovals = run.PendingApprovals
                .Select(p => new PendingApprovalResponse(p.CallId, p.Tool, p.Arguments, p.ExpiresAt, p.ApproveUrl, p.DenyUrl, links.Approvals + "/" + Uri.EscapeDataString(p.CallId)))
                .ToList(),
            Usage = new RunUsageResponse(run.Usage.InputTokens, run.Usage.OutputTokens, run.Usage.CachedInputTokens, run.Usage.CostUsd),
            Iterations = run.Iterations,
            ParentRunId = run.ParentRunId,
            Links = links,
        };
    }
}

/// <summary>One page of <c>GET /api/runs</c>.</summary>
/// <param name="Runs">The runs.</param>
/// <param name="ContinuationToken">Pass it back for the next page; null on the last page.</param>
public sealed record RunListResponse(IReadOnlyList<RunResponse> Runs, string? ContinuationToken);

/// <summary>The answer of a message in async mode, or of a wait that timed out (202).</summary>
/// <param name="RunId">The run id.</param>
/// <param name="Status">The run's status when the answer was written.</param>
/// <param name="Links">Status, events and cancel links.</param>
public sealed record RunAcceptedResponse(string RunId, RunStatus Status, RunLinks Links);

/// <summary>The answer of a decision made with an API key.</summary>
/// <param name="RunId">The run.</param>
/// <param name="CallId">The tool call.</param>
/// <param name="Decision"><c>approve</c> or <c>deny</c>.</param>
/// <param name="Outcome"><c>accepted</c>: delivered to the waiting run.</param>
public sealed record ApprovalDecisionResponse(string RunId, string CallId, string Decision, string Outcome);

/// <summary>The answer of a cancel request (202).</summary>
/// <param name="RunId">The run.</param>
/// <param name="CancelRequested">Always true: the run ends as Cancelled moments later.</param>
public sealed record RunCancelResponse(string RunId, bool CancelRequested);

/// <summary>A run event in <c>?format=json</c> answers.</summary>
/// <param name="Id">The sequence number (the SSE <c>id:</c>).</param>
/// <param name="Type">The event type (the SSE <c>event:</c>).</param>
/// <param name="Timestamp">When it was appended.</param>
/// <param name="Data">Its data.</param>
public sealed record RunEventResponse(long Id, string Type, DateTimeOffset Timestamp, JsonElement Data)
{
    /// <summary>Converts a stored event.</summary>
    public static RunEventResponse From(RunEvent e) => new(e.Sequence, e.Type, e.Timestamp, e.Data);
}

/// <summary>One page of <c>GET /api/runs/{id}/events?format=json</c> (the route answers <see cref="Events"/> as a JSON array and the rest in headers).</summary>
/// <param name="RunId">The run.</param>
/// <param name="Events">The events after the requested one, oldest first (at most 1000).</param>
/// <param name="LastEventId">The id of the last event returned (pass it as <c>after</c> for more); the request's <c>after</c> when none.</param>
/// <param name="Finished">True when the run has finished and every event up to its end has been returned.</param>
public sealed record RunEventsResponse(string RunId, IReadOnlyList<RunEventResponse> Events, long LastEventId, bool Finished);

/// <summary>A session in a listing.</summary>
/// <param name="Agent">The agent.</param>
/// <param name="Key">The session key.</param>
/// <param name="MessageCount">Messages stored.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
public sealed record SessionSummaryResponse(string Agent, string Key, int MessageCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    /// <summary>Converts a store summary.</summary>
    public static SessionSummaryResponse From(SessionSummary s) => new(s.Agent, s.Key, s.MessageCount, s.CreatedAt, s.UpdatedAt);
}

/// <summary>One page of <c>GET /api/sessions</c>.</summary>
/// <param name="Sessions">The sessions, by agent then key.</param>
/// <param name="ContinuationToken">Pass it back for the next page; null on the last page.</param>
public sealed record SessionListResponse(IReadOnlyList<SessionSummaryResponse> Sessions, string? ContinuationToken);

/// <summary>The body of <c>GET /api/sessions/{agent}/{key}</c>.</summary>
/// <param name="Agent">The agent.</param>
/// <param name="Key">The session key.</param>
/// <param name="MessageCount">Messages stored.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="Messages">The messages (Microsoft.Extensions.AI chat messages as JSON).</param>
public sealed record SessionResponse(string Agent, string Key, int MessageCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, JsonElement Messages)
{
    /// <summary>Converts a stored session.</summary>
    public static SessionResponse From(StoredSession s) =>
        new(s.Agent, s.Key, s.MessageCount, s.CreatedAt, s.UpdatedAt, Http.JsonBody.ParseStored(s.MessagesJson) ?? JsonSerializer.SerializeToElement(Array.Empty<object>()));
}
