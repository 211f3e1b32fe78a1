using System.Text.Json;
using System.Text.Json.Nodes;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>
/// Starting and managing orchestration instances, in the spirit of Durable Functions' HTTP API. Every route
/// requires an API key. See docs/http-api.md.
/// </summary>
public static class OrchestrationEndpoints
{
    /// <summary>The response (and request) header carrying the continuation token of a query.</summary>
    public const string ContinuationTokenHeader = "x-ms-continuation-token";

    /// <summary>The default page size of a query.</summary>
    public const int DefaultPageSize = 100;

    private const int MaxReasonLength = 4096;
    private const int MaxEventNameLength = 256;

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapOrchestrationEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/api/orchestrators", ListOrchestrators);
        endpoints.MapPost("/api/orchestrators/{name}", (string name, HttpContext context, Services s) => StartAsync(name, null, context, s));
        endpoints.MapPost("/api/orchestrators/{name}/{instanceId}", (string name, string instanceId, HttpContext context, Services s) => StartAsync(name, instanceId, context, s));

        endpoints.MapGet("/api/instances", QueryAsync);
        endpoints.MapDelete("/api/instances", PurgeByFilterAsync);
        endpoints.MapGet("/api/instances/{instanceId}", GetAsync);
        endpoints.MapDelete("/api/instances/{instanceId}", PurgeAsync);
        endpoints.MapPost("/api/instances/{instanceId}/raiseEvent/{eventName}", RaiseEventAsync);
        endpoints.MapPost("/api/instances/{instanceId}/terminate", TerminateAsync);
        endpoints.MapPost("/api/instances/{instanceId}/suspend", SuspendAsync);
        endpoints.MapPost("/api/instances/{instanceId}/resume", ResumeAsync);
        return endpoints;
    }

    private static IResult ListOrchestrators(DurableTaskRegistry registry) =>
        TypedResults.Ok(new OrchestratorsResponse(registry.OrchestratorNames.OrderBy(n => n, StringComparer.Ordinal).ToArray()));

    private static async Task<IResult> StartAsync(string name, string? instanceId, HttpContext context, Services s)
    {
        string registered = s.Registry.FindOrchestratorName(name)
            ?? throw new TaskNotRegisteredException("orchestrator", name, s.Registry.OrchestratorNames);
        if (instanceId is not null)
        {
            ValidateInstanceId(instanceId);
        }

        JsonElement? input = await JsonBody.ReadOptionalAsync(context.Request, s.BodyLimit, context.RequestAborted);
        string id = await s.Client.ScheduleNewOrchestrationInstanceAsync(
            registered, input, new StartOrchestrationOptions(instanceId), context.RequestAborted);
        Log.OrchestrationStarted(s.Logger, registered, id);
        InstanceLinks links = InstanceLinks.For(context.Request, id);
        return TypedResults.Accepted(links.StatusQueryGetUri, new StartResponse
        {
            Id = id,
            StatusQueryGetUri = links.StatusQueryGetUri,
            SendEventPostUri = links.SendEventPostUri,
            TerminatePostUri = links.TerminatePostUri,
            SuspendPostUri = links.SuspendPostUri,
            ResumePostUri = links.ResumePostUri,
            PurgeHistoryDeleteUri = links.PurgeHistoryDeleteUri,
        });
    }

    private static async Task<IResult> GetAsync(string instanceId, HttpContext context, Services s)
    {
        ValidateInstanceId(instanceId);
        IQueryCollection query = context.Request.Query;
        bool showHistory = QueryParameters.GetBoolean(query, "showHistory", defaultValue: false);
        bool showInput = QueryParameters.GetBoolean(query, "showInput", defaultValue: true);
        OrchestrationMetadata metadata = await s.Client.GetInstanceAsync(instanceId, getInputsAndOutputs: true, context.RequestAborted)
            ?? throw new OrchestrationNotFoundException(instanceId);
        IReadOnlyList<JsonElement>? history = null;
        if (showHistory)
        {
            IReadOnlyList<HistoryEvent> events = await s.Client.GetHistoryAsync(instanceId, context.RequestAborted);
            history = events.Select(ToJson).ToArray();
        }

        return TypedResults.Ok(InstanceStatusResponse.From(context.Request, metadata, showInput, includeOutputs: true, history));
    }

    private static async Task<IResult> QueryAsync(HttpContext context, Services s)
    {
        IQueryCollection query = context.Request.Query;
        var (from, to) = GetCreatedRange(query);
        string? token = QueryParameters.GetString(query, "continuationToken", maxLength: 2048)
            ?? (context.Request.Headers.TryGetValue(ContinuationTokenHeader, out var header) && header.Count == 1 ? header[0] : null);
        if (!string.IsNullOrEmpty(token))
        {
            try
            {
                QueryPaging.Decode(token);
            }
            catch (ArgumentException)
            {
                throw ApiProblemException.InvalidQuery(
                    "continuationToken",
                    "The continuation token is not valid. Pass the continuationToken (or x-ms-continuation-token header) of the previous page unchanged, or omit it for the first page.");
            }
        }

        bool showInput = QueryParameters.GetBoolean(query, "showInput", defaultValue: false);
        var request = new OrchestrationQuery
        {
            Statuses = QueryParameters.GetStatuses(query, "runtimeStatus"),
            NamePrefix = QueryParameters.GetString(query, "namePrefix", maxLength: 256),
            InstanceIdPrefix = QueryParameters.GetString(query, "instanceIdPrefix", maxLength: DurableTaskClient.MaxInstanceIdLength),
            CreatedFrom = from,
            CreatedTo = to,
            PageSize = QueryParameters.GetInt32(query, "top", DefaultPageSize, 1, QueryPaging.MaxPageSize),
            FetchInputsAndOutputs = showInput,
            ContinuationToken = string.IsNullOrEmpty(token) ? null : token,
        };
        Page<OrchestrationMetadata> page = await s.Client.QueryInstancesAsync(request, context.RequestAborted);
        if (page.ContinuationToken is not null)
        {
            context.Response.Headers[ContinuationTokenHeader] = page.ContinuationToken;
        }

        return TypedResults.Ok(new InstancePageResponse(
            page.Values.Select(m => InstanceStatusResponse.From(context.Request, m, showInput, includeOutputs: showInput)).ToArray(),
            page.ContinuationToken));
    }

    private static async Task<IResult> PurgeAsync(string instanceId, HttpContext context, Services s)
    {
        ValidateInstanceId(instanceId);
        OrchestrationMetadata metadata = await s.Client.GetInstanceAsync(instanceId, getInputsAndOutputs: false, context.RequestAborted)
            ?? throw new OrchestrationNotFoundException(instanceId);
        if (metadata.IsRunning)
        {
            throw StillRunning(instanceId, metadata.RuntimeStatus);
        }

        PurgeResult result;
        try
        {
            result = await s.Client.PurgeInstanceAsync(instanceId, context.RequestAborted);
        }
        catch (InvalidOperationException ex) when (ex is not OrchestrationNotFoundException and not OrchestrationAlreadyExistsException)
        {
            // Restarted between our read and the purge.
            OrchestrationMetadata? now = await s.Client.GetInstanceAsync(instanceId, getInputsAndOutputs: false, context.RequestAborted);
            throw StillRunning(instanceId, now?.RuntimeStatus ?? OrchestrationRuntimeStatus.Running);
        }

        if (result.PurgedInstanceCount == 0)
        {
            throw new OrchestrationNotFoundException(instanceId);
        }

        Log.InstancesPurged(s.Logger, result.PurgedInstanceCount);
        return TypedResults.Ok(new PurgeResponse(result.PurgedInstanceCount));
    }

    private static async Task<IResult> PurgeByFilterAsync(HttpContext context, Services s)
    {
        IQueryCollection query = context.Request.Query;
        var (from, to) = GetCreatedRange(query);
        IReadOnlyCollection<OrchestrationRuntimeStatus>? statuses = QueryParameters.GetStatuses(query, "runtimeStatus");
        if (from is null && to is null && statuses is null)
        {
            throw ApiProblemException.InvalidQuery(
                "createdTimeFrom",
                "Purging by filter needs at least one of createdTimeFrom, createdTimeTo or runtimeStatus, so that a bare DELETE cannot wipe every instance. " +
                "To purge every finished instance, pass createdTimeFrom=0001-01-01T00:00:00Z.");
        }

        if (statuses is not null && statuses.Where(st => !st.IsTerminal()).ToArray() is { Length: > 0 } unfinished)
        {
            throw ApiProblemException.InvalidQuery(
                "runtimeStatus",
                $"The query parameter 'runtimeStatus' contains {string.Join(", ", unfinished)}; only finished instances can be purged. Use Completed, Failed and/or Terminated.");
        }

        PurgeResult result = await s.Client.PurgeAllInstancesAsync(
            new PurgeInstancesFilter(from?.UtcDateTime, to?.UtcDateTime, statuses), context.RequestAborted);
        Log.InstancesPurged(s.Logger, result.PurgedInstanceCount);
        return TypedResults.Ok(new PurgeResponse(result.PurgedInstanceCount));
    }

    private static async Task<IResult> RaiseEventAsync(string instanceId, string eventName, HttpContext context, Services s)
    {
        ValidateInstanceId(instanceId);
        if (eventName.Length > MaxEventNameLength || eventName.Any(char.IsControl) || string.IsNullOrWhiteSpace(eventName))
        {
            throw new ApiProblemException(
                StatusCodes.Status400BadRequest,
                ProblemCodes.InvalidRouteValue,
                $"The event name '{QueryParameters.Echo(eventName)}' is not valid: it must be 1 to {MaxEventNameLength} characters with no control characters.");
        }

        await RequireUnfinishedAsync(instanceId, "receive events", context, s);
        JsonElement? payload = await JsonBody.ReadOptionalAsync(context.Request, s.BodyLimit, context.RequestAborted);
        await s.Client.RaiseEventAsync(instanceId, eventName, payload, context.RequestAborted);
        Log.InstanceOperationRequested(s.Logger, instanceId, "raiseEvent " + eventName);
        return TypedResults.Accepted((string?)null);
    }

    private static Task<IResult> TerminateAsync(string instanceId, HttpContext context, Services s) =>
        ControlAsync(instanceId, "be terminated", "terminate", context, s, (c, id, reason, ct) => c.TerminateInstanceAsync(id, reason, ct));

    private static Task<IResult> SuspendAsync(string instanceId, HttpContext context, Services s) =>
        ControlAsync(instanceId, "be suspended", "suspend", context, s, (c, id, reason, ct) => c.SuspendInstanceAsync(id, reason, ct));

    private static Task<IResult> ResumeAsync(string instanceId, HttpContext context, Services s) =>
        ControlAsync(instanceId, "be resumed", "resume", context, s, (c, id, reason, ct) => c.ResumeInstanceAsync(id, reason, ct));

    /// <summary>Terminate, suspend and resume: validate, read the optional reason, refuse finished instances, send, 202.</summary>
    private static async Task<IResult> ControlAsync(
        string instanceId,
        string operation,
        string logName,
        HttpContext context,
        Services s,
        Func<DurableTaskClient, string, string?, CancellationToken, Task> send)
    {
        ValidateInstanceId(instanceId);
        string? reason = QueryParameters.GetString(context.Request.Query, "reason", MaxReasonLength);
        await RequireUnfinishedAsync(instanceId, operation, context, s);
        await send(s.Client, instanceId, reason, context.RequestAborted);
        Log.InstanceOperationRequested(s.Logger, instanceId, logName);
        return TypedResults.Accepted((string?)null);
    }

    private static async Task RequireUnfinishedAsync(string instanceId, string operation, HttpContext context, Services s)
    {
        OrchestrationMetadata metadata = await s.Client.GetInstanceAsync(instanceId, getInputsAndOutputs: false, context.RequestAborted)
            ?? throw new OrchestrationNotFoundException(instanceId);
        if (metadata.IsCompleted)
        {
            throw new ApiProblemException(
                StatusCodes.Status410Gone,
                ProblemCodes.InstanceFinished,
                $"Instance '{instanceId}' is {metadata.RuntimeStatus}, so it can no longer {operation}. Start a new instance instead (POST /api/orchestrators/{metadata.Name}).",
                new Dictionary<string, object?> { ["runtimeStatus"] = metadata.RuntimeStatus.ToString() });
        }
    }

    private static ApiProblemException StillRunning(string instanceId, OrchestrationRuntimeStatus status) =>
        new(
            StatusCodes.Status409Conflict,
            ProblemCodes.InstanceRunning,
            $"Instance '{instanceId}' is {status}; only finished instances can be purged. Terminate it first (POST /api/instances/{Uri.EscapeDataString(instanceId)}/terminate), then purge it.",
            new Dictionary<string, object?> { ["runtimeStatus"] = status.ToString() });

    private static (DateTimeOffset? From, DateTimeOffset? To) GetCreatedRange(IQueryCollection query)
    {
        DateTimeOffset? from = QueryParameters.GetTimestamp(query, "createdTimeFrom");
        DateTimeOffset? to = QueryParameters.GetTimestamp(query, "createdTimeTo");
        if (from is { } f && to is { } t && f > t)
        {
            throw ApiProblemException.InvalidQuery(
                "createdTimeTo",
                $"The query parameter 'createdTimeTo' ({t:O}) is earlier than 'createdTimeFrom' ({f:O}); swap them or widen the range.");
        }

        return (from, to);
    }

    private static void ValidateInstanceId(string instanceId)
    {
        try
        {
            DurableTaskClient.ValidateInstanceId(instanceId);
        }
        catch (ArgumentException)
        {
            throw new ApiProblemException(
                StatusCodes.Status400BadRequest,
                ProblemCodes.InvalidRouteValue,
                $"The instance id '{QueryParameters.Echo(instanceId)}' is not valid: it must be 1 to {DurableTaskClient.MaxInstanceIdLength} characters, not only spaces, with no control characters and none of '/', '\\', '#', '?'.");
        }
    }

    private static JsonElement ToJson(HistoryEvent e)
    {
        JsonObject node = JsonSerializer.SerializeToNode(e, JsonDataConverter.DefaultOptions)!.AsObject();
        var result = new JsonObject { ["eventType"] = node["$type"]?.DeepClone() };
        foreach (var (key, value) in node)
        {
            if (key == "$type")
            {
                continue;
            }

            // Payloads are stored as JSON text; show them as JSON.
            result[key] = key is "input" or "result" && value is JsonValue v && v.TryGetValue(out string? text)
                ? JsonNode.Parse(JsonSerializer.Serialize(JsonBody.ParseStored(text)))
                : value?.DeepClone();
        }

        return JsonSerializer.SerializeToElement(result);
    }

    /// <summary>The services every route uses, injected as one parameter.</summary>
    internal sealed class Services
    {
        public Services(DurableTaskClient client, DurableTaskRegistry registry, HttpBodyLimit bodyLimit, ILoggerFactory loggerFactory)
        {
            this.Client = client;
            this.Registry = registry;
            this.BodyLimit = bodyLimit;
            this.Logger = loggerFactory.CreateLogger(Log.Category);
        }

        public DurableTaskClient Client { get; }

        public DurableTaskRegistry Registry { get; }

        public HttpBodyLimit BodyLimit { get; }

        public ILogger Logger { get; }
    }
}
