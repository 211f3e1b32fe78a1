using System.Text.Json;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>
/// Agent CRUD over <see cref="IAgentWorkspace"/>: <c>GET/POST /api/agents</c>, <c>GET/PUT/DELETE /api/agents/{name}</c>.
/// Validation problems answer 422 <c>agent-definition-invalid</c> with every problem's file and field. See docs/http-api.md.
/// </summary>
public static class AgentEndpoints
{
    private const string CreateExample = "{\"name\":\"research-bot\",\"agentMarkdown\":\"---\\nmax_iterations: 12\\n---\\nYou are a research assistant.\"}";
    private const string UpdateExample = "{\"agentMarkdown\":\"---\\nmax_iterations: 12\\n---\\nYou are a research assistant.\"}";

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapAgentEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/api/agents", ListAsync);
        endpoints.MapPost("/api/agents", CreateAsync);
        endpoints.MapGet("/api/agents/{name}", GetAsync);
        endpoints.MapPut("/api/agents/{name}", UpdateAsync);
        endpoints.MapDelete("/api/agents/{name}", DeleteAsync);
        return endpoints;
    }

    /// <summary>Throws 400 <c>invalid-route-value</c> when <paramref name="name"/> is not a valid agent name.</summary>
    public static void ValidateRouteName(string name)
    {
        if (!AgentName.IsValid(name))
        {
            throw new ApiProblemException(StatusCodes.Status400BadRequest, ProblemCodes.InvalidRouteValue, NameRule(name));
        }
    }

    /// <summary>404 <c>agent-not-found</c> for <paramref name="name"/>.</summary>
    public static ApiProblemException NotFound(string name) =>
        new(StatusCodes.Status404NotFound, ProblemCodes.AgentNotFound, $"The agent '{name}' does not exist. GET /api/agents lists the agents; POST /api/agents creates one.");

    private static string NameRule(string? name) =>
        $"The agent name '{QueryParameters.Echo(name ?? string.Empty)}' is not valid: use 1-{AgentName.MaxLength} lowercase letters, digits and '-', starting with a letter or digit (for example 'research-bot').";

    private static async Task<IResult> ListAsync(IAgentWorkspace workspace, CancellationToken cancellationToken)
    {
        var agents = new List<AgentSummaryResponse>();
        foreach (string name in await workspace.ListAgentNamesAsync(cancellationToken))
        {
            try
            {
                AgentDefinition? d = await workspace.GetAgentAsync(name, cancellationToken);
                if (d is not null)
                {
                    agents.Add(new AgentSummaryResponse(d.Name, d.Description, d.Provider, d.Model, d.Version, null));
                }
            }
            catch (AgentDefinitionException ex)
            {
                // Listed so that a broken agent can be found and fixed, with what is wrong.
                agents.Add(new AgentSummaryResponse(name, null, null, null, null, AgentDefinitionErrorResponse.From(ex.Errors)));
            }
        }

        return TypedResults.Ok(new AgentListResponse(agents));
    }

    private static async Task<IResult> GetAsync(string name, HttpContext context, IAgentWorkspace workspace)
    {
        ValidateRouteName(name);
        AgentDefinition agent = await workspace.GetAgentAsync(name, context.RequestAborted) ?? throw NotFound(name);
        return WithETag(context, TypedResults.Ok(AgentResponse.From(agent)), agent);
    }

    private static async Task<IResult> CreateAsync(HttpContext context, IAgentWorkspace workspace, HttpBodyLimit limit, ILoggerFactory loggers)
    {
        JsonElement body = JsonFields.RequireObject(await JsonBody.ReadOptionalAsync(context.Request, limit, context.RequestAborted), CreateExample);
        string name = JsonFields.GetRequiredString(body, "name", 256, "\"research-bot\"");
        if (!AgentName.IsValid(name))
        {
            throw JsonFields.Invalid("name", NameRule(name));
        }

        AgentFiles files = ReadFiles(body);
        AgentDefinition agent = await workspace.CreateAgentAsync(name, files, context.RequestAborted);
        Log.AgentChanged(loggers.CreateLogger(Log.Category), name, "created");
        string location = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}/api/agents/{name}";
        return WithETag(context, TypedResults.Created(location, AgentResponse.From(agent)), agent);
    }

    private static async Task<IResult> UpdateAsync(string name, HttpContext context, IAgentWorkspace workspace, HttpBodyLimit limit, ILoggerFactory loggers)
    {
        ValidateRouteName(name);
        JsonElement body = JsonFields.RequireObject(await JsonBody.ReadOptionalAsync(context.Request, limit, context.RequestAborted), UpdateExample);
        if (JsonFields.GetOptionalString(body, "name", 256) is { } bodyName && bodyName != name)
        {
            throw JsonFields.Invalid("name", $"The field 'name' is '{QueryParameters.Echo(bodyName)}' but the URL names the agent '{name}'; an agent cannot be renamed. Leave 'name' out, or create a new agent and delete the old one.");
        }

        AgentFiles files = ReadFiles(body);
        string? expectedVersion = IfMatch(context.Request);
        AgentDefinition agent = await workspace.UpdateAgentAsync(name, files, expectedVersion, context.RequestAborted);
        Log.AgentChanged(loggers.CreateLogger(Log.Category), name, "updated");
        return WithETag(context, TypedResults.Ok(AgentResponse.From(agent)), agent);
    }

    private static async Task<IResult> DeleteAsync(string name, HttpContext context, IAgentWorkspace workspace, ILoggerFactory loggers)
    {
        ValidateRouteName(name);
        if (!await workspace.DeleteAgentAsync(name, context.RequestAborted))
        {
            throw NotFound(name);
        }

        Log.AgentChanged(loggers.CreateLogger(Log.Category), name, "deleted");
        return TypedResults.NoContent();
    }

    private static AgentFiles ReadFiles(JsonElement body) => new(
        JsonFields.GetRequiredString(body, "agentMarkdown", AgentDefinitionLimits.MaxAgentFileSizeBytes, "\"---\\nmax_iterations: 12\\n---\\nYou are a research assistant.\""),
        JsonFields.GetOptionalString(body, "toolsMarkdown", AgentDefinitionLimits.MaxAuxiliaryFileSizeBytes),
        JsonFields.GetOptionalString(body, "heartbeatMarkdown", AgentDefinitionLimits.MaxAuxiliaryFileSizeBytes));

    private static string? IfMatch(HttpRequest request)
    {
        string? raw = request.Headers.IfMatch.ToString();
        if (string.IsNullOrWhiteSpace(raw) || raw.Trim() == "*")
        {
            return null;
        }

        string value = raw.Trim();
        if (value.StartsWith("W/", StringComparison.Ordinal))
        {
            value = value[2..];
        }

        return value.Trim('"');
    }

    private static IResult WithETag(HttpContext context, IResult result, AgentDefinition agent)
    {
        context.Response.Headers[HeaderNames.ETag] = $"\"{agent.Version}\"";
        return result;
    }
}
