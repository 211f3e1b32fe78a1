namespace Kestrel.Cloud.Functions.Http;

/// <summary>
/// The one exception type whose message reaches a caller: thrown for bad input and refused operations, turned
/// into an <c>application/problem+json</c> response by <see cref="ApiExceptionHandler"/>. The detail must say what
/// was wrong and how to fix it, and must not contain internals.
/// </summary>
public sealed class ApiProblemException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">The HTTP status code.</param>
    /// <param name="code">A short stable machine-readable code, for example <c>invalid-query-parameter</c>.</param>
    /// <param name="detail">What was wrong and how to fix it.</param>
    /// <param name="extensions">Extra members of the problem object.</param>
    public ApiProblemException(int statusCode, string code, string detail, IReadOnlyDictionary<string, object?>? extensions = null)
        : base(detail)
    {
        this.StatusCode = statusCode;
        this.Code = code;
        this.Extensions = extensions ?? new Dictionary<string, object?>();
    }

    /// <summary>The HTTP status code.</summary>
    public int StatusCode { get; }

    /// <summary>The machine-readable code.</summary>
    public string Code { get; }

    /// <summary>Extra members of the problem object.</summary>
    public IReadOnlyDictionary<string, object?> Extensions { get; }

    /// <summary>400 for a query parameter, naming it.</summary>
    public static ApiProblemException InvalidQuery(string parameter, string detail) =>
        new(400, ProblemCodes.InvalidQueryParameter, detail, new Dictionary<string, object?> { ["parameter"] = parameter });
}

/// <summary>The machine-readable <c>code</c> member of every problem this server returns.</summary>
public static class ProblemCodes
{
    /// <summary>401: no API key was sent.</summary>
    public const string ApiKeyMissing = "api-key-missing";

    /// <summary>401: the API key is not accepted.</summary>
    public const string ApiKeyInvalid = "api-key-invalid";

    /// <summary>400: the body is not JSON.</summary>
    public const string InvalidJson = "invalid-json";

    /// <summary>400: a query parameter is not valid.</summary>
    public const string InvalidQueryParameter = "invalid-query-parameter";

    /// <summary>400: a route value (instance id, event name) is not valid.</summary>
    public const string InvalidRouteValue = "invalid-route-value";

    /// <summary>413: the body or a payload is over its limit.</summary>
    public const string PayloadTooLarge = "payload-too-large";

    /// <summary>404: no orchestration with that name is registered.</summary>
    public const string OrchestratorNotRegistered = "orchestrator-not-registered";

    /// <summary>404: no instance with that id.</summary>
    public const string InstanceNotFound = "instance-not-found";

    /// <summary>409: an unfinished instance already uses that id.</summary>
    public const string InstanceAlreadyExists = "instance-already-exists";

    /// <summary>409: the instance is still running.</summary>
    public const string InstanceRunning = "instance-running";

    /// <summary>410: the instance has finished, so it cannot take this operation.</summary>
    public const string InstanceFinished = "instance-finished";

    /// <summary>4xx from the HTTP layer (unknown route, wrong method, malformed request).</summary>
    public const string HttpError = "http-error";

    /// <summary>500: something unexpected; the correlation id finds it in the server log.</summary>
    public const string InternalError = "internal-error";

    /// <summary>400: a field of the request body is missing or not valid.</summary>
    public const string InvalidField = "invalid-field";

    /// <summary>422: an agent's files have problems; <c>errors</c> lists each with its file and field.</summary>
    public const string AgentDefinitionInvalid = "agent-definition-invalid";

    /// <summary>404: no agent with that name.</summary>
    public const string AgentNotFound = "agent-not-found";

    /// <summary>409: an agent with that name exists.</summary>
    public const string AgentAlreadyExists = "agent-already-exists";

    /// <summary>412: the agent changed since the version in If-Match.</summary>
    public const string AgentVersionMismatch = "agent-version-mismatch";

    /// <summary>404: no run with that id.</summary>
    public const string RunNotFound = "run-not-found";

    /// <summary>409: the run has finished, so it cannot be cancelled.</summary>
    public const string RunFinished = "run-finished";

    /// <summary>409: the run has no pending approval with that call id.</summary>
    public const string ApprovalNotPending = "approval-not-pending";

    /// <summary>404: no session with that agent and key.</summary>
    public const string SessionNotFound = "session-not-found";

    /// <summary>503: no model provider is configured; <c>environmentVariables</c> names what to set.</summary>
    public const string ProviderNotConfigured = "provider-not-configured";
}
