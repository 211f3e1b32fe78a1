using System.Text.Json;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>
/// Runs: <c>GET /api/runs</c>, <c>GET /api/runs/{id}</c>, <c>POST /api/runs/{id}/cancel</c>,
/// <c>POST /api/runs/{id}/approvals/{callId}</c> (API key) and <c>GET /api/runs/{id}/events</c>. See docs/http-api.md.
/// </summary>
public static class RunEndpoints
{
    /// <summary>The default page size of <c>GET /api/runs</c>.</summary>
    public const int DefaultPageSize = 50;

    /// <summary>The header of a <c>?format=json</c> answer saying whether the run has finished and every event was returned.</summary>
    public const string RunFinishedHeader = "x-run-finished";

    /// <summary>The header of a <c>?format=json</c> answer carrying the id of its last event (the <c>after</c> of the next call).</summary>
    public const string LastEventIdHeader = "Last-Event-ID";

    private const int MaxIdLength = 256;
    private const int MaxReasonLength = 4096;

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapRunEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/api/runs", ListAsync);
        endpoints.MapGet("/api/runs/{runId}", GetAsync);
        endpoints.MapPost("/api/runs/{runId}/cancel", CancelAsync);
        endpoints.MapPost("/api/runs/{runId}/approvals/{callId}", DecideAsync);
        endpoints.MapGet("/api/runs/{runId}/events", EventsAsync);
        return endpoints;
    }

    /// <summary>Throws 400 <c>invalid-route-value</c> when a run or call id is empty, too long or holds control characters or <c>/ \ # ?</c>.</summary>
    public static void ValidateId(string value, string what)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > MaxIdLength || value.Any(c => char.IsControl(c) || c is '/' or '\\' or '#' or '?'))
        {
            throw new ApiProblemException(
                StatusCodes.Status400BadRequest,
                ProblemCodes.InvalidRouteValue,
                $"The {what} '{QueryParameters.Echo(value)}' is not valid: use 1-{MaxIdLength} characters without control characters and without / \\ # ?.");
        }
    }

    /// <summary>The run, or 404 <c>run-not-found</c>.</summary>
    public static async Task<RunInfo> RequireRunAsync(IAgentRunService runs, string runId, CancellationToken cancellationToken)
    {
        ValidateId(runId, "run id");
        return await runs.GetAsync(runId, cancellationToken) ?? throw RunNotFound(runId);
    }

    private static ApiProblemException RunNotFound(string runId) =>
        new(StatusCodes.Status404NotFound, ProblemCodes.RunNotFound, $"No run with id '{QueryParameters.Echo(runId)}' exists. Check the id, or list runs with GET /api/runs.");

    private static async Task<IResult> ListAsync(HttpContext context, IAgentRunService runs)
    {
        IQueryCollection query = context.Request.Query;
        string? agent = QueryParameters.GetString(query, "agent", AgentName.MaxLength + 1);
        if (agent is not null && !AgentName.IsValid(agent))
        {
            throw ApiProblemException.InvalidQuery("agent", $"The query parameter 'agent' is '{QueryParameters.Echo(agent)}', which is not an agent name (lowercase letters, digits and '-'), for example ?agent=default.");
        }

        RunStatus? status = null;
        if (QueryParameters.GetString(query, "status", 32) is { } rawStatus)
        {
            if (!Enum.TryParse(rawStatus.Trim(), ignoreCase: true, out RunStatus parsed) || !Enum.IsDefined(parsed) || int.TryParse(rawStatus, out _))
            {
                throw ApiProblemException.InvalidQuery("status", $"The query parameter 'status' is '{QueryParameters.Echo(rawStatus)}'; use one of {string.Join(", ", Enum.GetNames<RunStatus>())}, for example ?status=WaitingForApproval.");
            }

            status = parsed;
        }

        int top = QueryParameters.GetInt32(query, "top", DefaultPageSize, 1, 1000);
        string? token = QueryParameters.GetString(query, "continuationToken", 4096);
        (IReadOnlyList<RunInfo> page, string? next) result;
        try
        {
            result = await runs.ListAsync(agent, status, top, token, context.RequestAborted);
        }
        catch (ArgumentException) when (token is not null)
        {
            throw ApiProblemException.InvalidQuery("continuationToken", "The query parameter 'continuationToken' is not a token this server issued. Pass back the continuationToken of the previous page unchanged, or leave it out for the first page.");
        }

        return TypedResults.Ok(new RunListResponse(result.page.Select(r => RunResponse.From(context.Request, r)).ToList(), result.next));
    }

    private static async Task<IResult> GetAsync(string runId, HttpContext context, IAgentRunService runs) =>
        TypedResults.Ok(RunResponse.From(context.Request, await RequireRunAsync(runs, runId, context.RequestAborted)));

    private static async Task<IResult> CancelAsync(string runId, HttpContext context, IAgentRunService runs)
    {
        ValidateId(runId, "run id");
        string? reason = QueryParameters.GetString(context.Request.Query, "reason", MaxReasonLength);
        if (await runs.CancelAsync(runId, reason, context.RequestAborted))
        {
            return TypedResults.Accepted(RunLinks.For(context.Request, runId).Status, new RunCancelResponse(runId, true));
        }

        RunInfo run = await RequireRunAsync(runs, runId, context.RequestAborted);
        throw new ApiProblemException(
            StatusCodes.Status409Conflict,
            ProblemCodes.RunFinished,
            $"The run '{runId}' has already finished ({run.Status}); only a live run can be cancelled.",
            new Dictionary<string, object?> { ["runStatus"] = run.Status.ToString() });
    }

    private static async Task<IResult> DecideAsync(string runId, string callId, HttpContext context, IAgentRunService runs, IApprovalLinkLedger ledger, HttpBodyLimit limit, ILoggerFactory loggers)
    {
        ValidateId(runId, "run id");
        ValidateId(callId, "call id");
        const string example = "{\"decision\":\"approve\",\"reason\":\"looks safe\"}";
        JsonElement body = JsonFields.RequireObject(await JsonBody.ReadOptionalAsync(context.Request, limit, context.RequestAborted), example);
        string decision = JsonFields.GetRequiredString(body, "decision", 16, "\"approve\" or \"deny\"").Trim().ToLowerInvariant();
        if (decision is not ("approve" or "deny"))
        {
            throw JsonFields.Invalid("decision", $"The field 'decision' is '{QueryParameters.Echo(decision)}'; it must be approve or deny, for example {example}.");
        }

        string? reason = JsonFields.GetOptionalString(body, "reason", MaxReasonLength);
        string by = JsonFields.GetOptionalString(body, "by", 256) ?? "api-key";
        ApprovalOutcome outcome = await ApprovalDecider.DecideAsync(runs, ledger, runId, callId, new ApprovalDecision(decision == "approve", reason, by), context.RequestAborted);
        Log.ApprovalDecided(loggers.CreateLogger(Log.Category), runId, callId, decision, "api-key", outcome.ToString());
        return outcome switch
        {
            ApprovalOutcome.Accepted => TypedResults.Ok(new ApprovalDecisionResponse(runId, callId, decision, "accepted")),
            ApprovalOutcome.RunNotFound => throw RunNotFound(runId),
            _ => throw new ApiProblemException(
                StatusCodes.Status409Conflict,
                ProblemCodes.ApprovalNotPending,
                $"The run '{runId}' has no pending approval for call '{QueryParameters.Echo(callId)}': it was already decided (with the API or a signed link), it timed out, or the run has ended. GET /api/runs/{runId} lists its pending approvals."),
        };
    }

    private static async Task<IResult> EventsAsync(string runId, HttpContext context, IAgentRunService runs, RunEventStream stream)
    {
        string? format = QueryParameters.GetString(context.Request.Query, "format", 16);
        if (format is not null && format is not ("json" or "sse"))
        {
            throw ApiProblemException.InvalidQuery("format", $"The query parameter 'format' is '{QueryParameters.Echo(format)}'; it must be sse (the default) or json.");
        }

        long after = RunEventStream.ReadCursor(context.Request);
        await RequireRunAsync(runs, runId, context.RequestAborted);
        if (format == "json")
        {
            // A JSON array of the events, as non-SSE clients expect; whether more can follow is in the headers.
            RunEventsResponse page = await stream.ReadPageAsync(runId, after, context.RequestAborted);
            context.Response.Headers[RunFinishedHeader] = page.Finished ? "true" : "false";
            context.Response.Headers[LastEventIdHeader] = page.LastEventId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Ok(page.Events);
        }

        await stream.WriteAsync(context, runId, after);
        return TypedResults.Empty;
    }
}

/// <summary>
/// Delivers a human's decision, from the API or from a signed link, in one order:
/// <list type="number">
/// <item>read the run: no run → <see cref="ApprovalOutcome.RunNotFound"/>; the call is not pending →
/// <see cref="ApprovalOutcome.NotPending"/> (nothing is recorded);</item>
/// <item>mark <c>{runId}/{callId}</c> used in the <see cref="IApprovalLinkLedger"/> (the id of both of the call's links):
/// when it was already used → <see cref="ApprovalOutcome.NotPending"/>. This is what makes a decision count once even
/// when an approve click, a deny click and an API call race, on one process or several;</item>
/// <item>deliver the decision to the run service and return its outcome.</item>
/// </list>
/// The ledger entry is written before delivery, so a delivery that fails afterwards (the store is down) leaves the
/// call spent for the API and both links alike (409), and the run's approval timeout then counts as a denial. That is
/// the safe side of the trade: two decisions for one call can never both be delivered.
/// </summary>
public static class ApprovalDecider
{
    /// <summary>The ledger id of a call's links (the same as <see cref="ApprovalLinkClaims.LinkId"/>).</summary>
    public static string LinkId(string runId, string callId) => new ApprovalLinkClaims(runId, callId, ApprovalLinkDecision.Approve, default).LinkId;

    /// <summary>Runs the three steps above.</summary>
    public static async Task<ApprovalOutcome> DecideAsync(IAgentRunService runs, IApprovalLinkLedger ledger, string runId, string callId, ApprovalDecision decision, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(ledger);
        RunInfo? run = await runs.GetAsync(runId, cancellationToken);
        if (run is null)
        {
            return ApprovalOutcome.RunNotFound;
        }

        PendingApproval? pending = run.PendingApprovals.FirstOrDefault(p => p.CallId == callId);
        if (pending is null)
        {
            return ApprovalOutcome.NotPending;
        }

        if (!await ledger.TryConsumeAsync(LinkId(runId, callId), pending.ExpiresAt, cancellationToken))
        {
            return ApprovalOutcome.NotPending;
        }

        return await runs.DecideAsync(runId, callId, decision, cancellationToken);
    }
}
