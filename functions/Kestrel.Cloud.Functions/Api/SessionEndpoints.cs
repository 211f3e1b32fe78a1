using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Functions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>Sessions: <c>GET /api/sessions</c>, <c>GET/DELETE /api/sessions/{agent}/{key}</c>. See docs/http-api.md.</summary>
public static class SessionEndpoints
{
    /// <summary>The default page size of <c>GET /api/sessions</c>.</summary>
    public const int DefaultPageSize = 100;

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapSessionEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/api/sessions", ListAsync);
        endpoints.MapGet("/api/sessions/{agent}/{key}", GetAsync);
        endpoints.MapDelete("/api/sessions/{agent}/{key}", DeleteAsync);
        return endpoints;
    }

    private static async Task<IResult> ListAsync(HttpContext context, ISessionStore sessions)
    {
        IQueryCollection query = context.Request.Query;
        string? agent = QueryParameters.GetString(query, "agent", AgentName.MaxLength + 1);
        if (agent is not null && !AgentName.IsValid(agent))
        {
            throw ApiProblemException.InvalidQuery("agent", $"The query parameter 'agent' is '{QueryParameters.Echo(agent)}', which is not an agent name (lowercase letters, digits and '-'), for example ?agent=default.");
        }

        int top = QueryParameters.GetInt32(query, "top", DefaultPageSize, 1, 1000);
        string? token = QueryParameters.GetString(query, "continuationToken", 4096);
        (IReadOnlyList<SessionSummary> page, string? next) result;
        try
        {
            result = await sessions.ListAsync(agent, top, token, context.RequestAborted);
        }
        catch (ArgumentException) when (token is not null)
        {
            throw ApiProblemException.InvalidQuery("continuationToken", "The query parameter 'continuationToken' is not a token this server issued. Pass back the continuationToken of the previous page unchanged, or leave it out for the first page.");
        }

        return TypedResults.Ok(new SessionListResponse(result.page.Select(SessionSummaryResponse.From).ToList(), result.next));
    }

    private static async Task<IResult> GetAsync(string agent, string key, HttpContext context, ISessionStore sessions)
    {
        Validate(agent, key);
        StoredSession session = await sessions.GetAsync(agent, key, context.RequestAborted) ?? throw NotFound(agent, key);
        return TypedResults.Ok(SessionResponse.From(session));
    }

    private static async Task<IResult> DeleteAsync(string agent, string key, HttpContext context, ISessionStore sessions)
    {
        Validate(agent, key);
        if (!await sessions.DeleteAsync(agent, key, context.RequestAborted))
        {
            throw NotFound(agent, key);
        }

        return TypedResults.NoContent();
    }

    private static void Validate(string agent, string key)
    {
        AgentEndpoints.ValidateRouteName(agent);
        if (!SessionKeys.IsValid(key))
        {
            throw new ApiProblemException(
                StatusCodes.Status400BadRequest,
                ProblemCodes.InvalidRouteValue,
                $"The session key '{QueryParameters.Echo(key)}' is not valid: use 1-{SessionKeys.MaxLength} letters, digits or - _ . : @.");
        }
    }

    private static ApiProblemException NotFound(string agent, string key) =>
        new(StatusCodes.Status404NotFound, ProblemCodes.SessionNotFound, $"The agent '{agent}' has no session '{key}'. GET /api/sessions?agent={agent} lists its sessions.");
}
