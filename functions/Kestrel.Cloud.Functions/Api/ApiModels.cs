using System.Text.Json;
using System.Text.Json.Serialization;
using Kestrel.Cloud.Durable;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>The body of <c>GET /</c>.</summary>
/// <param name="Name">The product name.</param>
/// <param name="Version">The server version.</param>
/// <param name="Links">Where to go next, by name.</param>
public sealed record RootResponse(string Name, string Version, IReadOnlyDictionary<string, string> Links);

/// <summary>The body of <c>GET /api/health</c>.</summary>
/// <param name="Status"><c>Healthy</c> or <c>Unhealthy</c>.</param>
/// <param name="Components">Each component and its state, by name: <c>store</c>, <c>dispatcher</c>, then every
/// <see cref="IHealthComponent"/> (<c>agents</c>, <c>provider</c>, ...).</param>
public sealed record HealthResponse(string Status, IReadOnlyDictionary<string, object> Components);

/// <summary>The store's health.</summary>
/// <param name="Status"><c>Healthy</c> or <c>Unhealthy</c>.</param>
/// <param name="Name">The store's name (<c>in-memory</c>, <c>sqlite</c>, ...).</param>
/// <param name="Reachable">True when a read succeeded within the probe timeout.</param>
public sealed record StoreHealth(string Status, string Name, bool Reachable);

/// <summary>The dispatcher's health.</summary>
/// <param name="Status"><c>Healthy</c> or <c>Unhealthy</c>.</param>
/// <param name="Running">True while its fetch loops run.</param>
public sealed record DispatcherHealth(string Status, bool Running);

/// <summary>The body of <c>GET /api/ready</c>.</summary>
/// <param name="Ready">True when the server accepts work.</param>
/// <param name="StoreInitialized">True once the store is initialized.</param>
/// <param name="DispatcherRunning">True while the dispatcher runs.</param>
/// <param name="WaitingFor">What readiness still waits for; empty when ready.</param>
public sealed record ReadyResponse(bool Ready, bool StoreInitialized, bool DispatcherRunning, IReadOnlyList<string> WaitingFor);

/// <summary>The body of <c>GET /api/orchestrators</c>.</summary>
/// <param name="Orchestrators">The registered orchestration names, sorted.</param>
public sealed record OrchestratorsResponse(IReadOnlyList<string> Orchestrators);

/// <summary>The management links of an instance, named as in Durable Functions' HTTP API.</summary>
public record InstanceLinks
{
    /// <summary>GET: the instance's status.</summary>
    [JsonPropertyOrder(1)]
    public required string StatusQueryGetUri { get; init; }

    /// <summary>POST: raise an event; replace <c>{eventName}</c>.</summary>
    [JsonPropertyOrder(1)]
    public required string SendEventPostUri { get; init; }

    /// <summary>POST: terminate; replace <c>{text}</c> with the reason.</summary>
    [JsonPropertyOrder(1)]
    public required string TerminatePostUri { get; init; }

    /// <summary>POST: suspend; replace <c>{text}</c> with the reason.</summary>
    [JsonPropertyOrder(1)]
    public required string SuspendPostUri { get; init; }

    /// <summary>POST: resume; replace <c>{text}</c> with the reason.</summary>
    [JsonPropertyOrder(1)]
    public required string ResumePostUri { get; init; }

    /// <summary>DELETE: purge the finished instance's history.</summary>
    [JsonPropertyOrder(1)]
    public required string PurgeHistoryDeleteUri { get; init; }

    /// <summary>The links of <paramref name="instanceId"/>, absolute, based on the request's scheme, host and path base.</summary>
    public static InstanceLinks For(HttpRequest request, string instanceId)
    {
        string instance = $"{request.Scheme}://{request.Host}{request.PathBase}/api/instances/{Uri.EscapeDataString(instanceId)}";
        return new InstanceLinks
        {
            StatusQueryGetUri = instance,
            SendEventPostUri = instance + "/raiseEvent/{eventName}",
            TerminatePostUri = instance + "/terminate?reason={text}",
            SuspendPostUri = instance + "/suspend?reason={text}",
            ResumePostUri = instance + "/resume?reason={text}",
            PurgeHistoryDeleteUri = instance,
        };
    }
}

/// <summary>The body of a start (202): the instance id and its management links.</summary>
public sealed record StartResponse : InstanceLinks
{
    /// <summary>The instance id.</summary>
    [JsonPropertyOrder(-1)]
    public required string Id { get; init; }
}

/// <summary>Why an instance failed (no stack traces over HTTP: they are in the server log and the history).</summary>
/// <param name="ErrorType">The exception type.</param>
/// <param name="ErrorMessage">The exception message.</param>
/// <param name="InnerFailure">The failure that caused this one.</param>
public sealed record FailureDetailsResponse(string ErrorType, string ErrorMessage, FailureDetailsResponse? InnerFailure)
{
    /// <summary>Converts engine failure details; null stays null.</summary>
    public static FailureDetailsResponse? From(TaskFailureDetails? details) =>
        details is null ? null : new FailureDetailsResponse(details.ErrorType, details.ErrorMessage, From(details.InnerFailure));
}

/// <summary>The status of an instance (<c>GET /api/instances/{id}</c> and each item of a query).</summary>
public sealed record InstanceStatusResponse : InstanceLinks
{
    /// <summary>The orchestration name.</summary>
    public required string Name { get; init; }

    /// <summary>The instance id.</summary>
    public required string InstanceId { get; init; }

    /// <summary>Pending, Running, Completed, ContinuedAsNew, Failed, Terminated or Suspended.</summary>
    public required OrchestrationRuntimeStatus RuntimeStatus { get; init; }

    /// <summary>The input (null when not requested).</summary>
    public JsonElement? Input { get; init; }

    /// <summary>The custom status set by the orchestration.</summary>
    public JsonElement? CustomStatus { get; init; }

    /// <summary>The output once finished (for Terminated: the reason).</summary>
    public JsonElement? Output { get; init; }

    /// <summary>Why it failed, when Failed.</summary>
    public FailureDetailsResponse? FailureDetails { get; init; }

    /// <summary>When it was created (UTC).</summary>
    public required DateTime CreatedTime { get; init; }

    /// <summary>When it last changed (UTC).</summary>
    public required DateTime LastUpdatedTime { get; init; }

    /// <summary>The history of the current execution, when <c>showHistory=true</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<JsonElement>? HistoryEvents { get; init; }

    /// <summary>Builds the response from engine metadata.</summary>
    public static InstanceStatusResponse From(HttpRequest request, OrchestrationMetadata m, bool includeInput, bool includeOutputs, IReadOnlyList<JsonElement>? history = null)
    {
        InstanceLinks links = InstanceLinks.For(request, m.InstanceId);
        return new InstanceStatusResponse
        {
            Name = m.Name,
            InstanceId = m.InstanceId,
            RuntimeStatus = m.RuntimeStatus,
            Input = includeInput ? Http.JsonBody.ParseStored(m.SerializedInput) : null,
            CustomStatus = includeOutputs ? Http.JsonBody.ParseStored(m.SerializedCustomStatus) : null,
            Output = includeOutputs ? Http.JsonBody.ParseStored(m.SerializedOutput) : null,
            FailureDetails = FailureDetailsResponse.From(m.FailureDetails),
            CreatedTime = m.CreatedAt.UtcDateTime,
            LastUpdatedTime = m.LastUpdatedAt.UtcDateTime,
            HistoryEvents = history,
            StatusQueryGetUri = links.StatusQueryGetUri,
            SendEventPostUri = links.SendEventPostUri,
            TerminatePostUri = links.TerminatePostUri,
            SuspendPostUri = links.SuspendPostUri,
            ResumePostUri = links.ResumePostUri,
            PurgeHistoryDeleteUri = links.PurgeHistoryDeleteUri,
        };
    }
}

/// <summary>One page of <c>GET /api/instances</c>.</summary>
/// <param name="Instances">The instances, oldest first.</param>
/// <param name="ContinuationToken">Pass it back for the next page; null on the last page.</param>
public sealed record InstancePageResponse(IReadOnlyList<InstanceStatusResponse> Instances, string? ContinuationToken);

/// <summary>The body of a purge.</summary>
/// <param name="InstancesDeleted">How many instances were deleted.</param>
public sealed record PurgeResponse(int InstancesDeleted);
