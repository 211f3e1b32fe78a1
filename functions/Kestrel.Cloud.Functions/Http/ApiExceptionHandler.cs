using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Functions.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Http;

/// <summary>
/// Turns exceptions into problem responses. Only <see cref="ApiProblemException"/> and the engine's caller-facing
/// exceptions (whose messages are written for callers) reach the response; anything else becomes a 500 that
/// carries only a correlation id, and is logged with it.
/// </summary>
public sealed class ApiExceptionHandler : IExceptionHandler
{
    private readonly ILogger logger;
    private readonly DurableTaskRegistry registry;
    private readonly HttpBodyLimit bodyLimit;

    /// <summary>Creates the handler.</summary>
    public ApiExceptionHandler(ILoggerFactory loggerFactory, DurableTaskRegistry registry, HttpBodyLimit bodyLimit)
    {
        this.logger = loggerFactory.CreateLogger(Log.Category);
        this.registry = registry;
        this.bodyLimit = bodyLimit;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
            return true;
        }

        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        ProblemDetails problem = this.ToProblem(httpContext, exception);
        if (problem.Status >= 500)
        {
            Log.UnhandledException(this.logger, httpContext.Request.Method, httpContext.Request.Path, (string)problem.Extensions["correlationId"]!, exception);
        }
        else
        {
            Log.ProblemReturned(this.logger, httpContext.Request.Method, httpContext.Request.Path, problem.Status ?? 0, (string)problem.Extensions["code"]!);
        }

        await ProblemWriter.WriteAsync(httpContext, problem);
        return true;
    }

    private ProblemDetails ToProblem(HttpContext context, Exception exception)
    {
        switch (exception)
        {
            case ApiProblemException api:
                return ProblemWriter.Create(context, api.StatusCode, api.Code, api.Message, api.Extensions);
            case TaskNotRegisteredException notRegistered:
                return ProblemWriter.Create(
                    context,
                    StatusCodes.Status404NotFound,
                    ProblemCodes.OrchestratorNotRegistered,
                    notRegistered.Message + " Names are case-insensitive; GET /api/orchestrators lists them.",
                    new Dictionary<string, object?> { ["registeredOrchestrators"] = this.registry.OrchestratorNames.OrderBy(n => n, StringComparer.Ordinal).ToArray() });
            case OrchestrationAlreadyExistsException exists:
                return ProblemWriter.Create(context, StatusCodes.Status409Conflict, ProblemCodes.InstanceAlreadyExists, exists.Message);
            case OrchestrationNotFoundException notFound:
                return ProblemWriter.Create(context, StatusCodes.Status404NotFound, ProblemCodes.InstanceNotFound, notFound.Message);
            case PayloadTooLargeException tooLarge:
                return ProblemWriter.Create(context, StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge, tooLarge.Message);
            case AgentDefinitionException invalid:
                return ProblemWriter.Create(
                    context,
                    StatusCodes.Status422UnprocessableEntity,
                    ProblemCodes.AgentDefinitionInvalid,
                    invalid.Message,
                    new Dictionary<string, object?> { ["errors"] = Api.AgentDefinitionErrorResponse.From(invalid.Errors) });
            case AgentWorkspaceException workspace:
                return workspace.Error switch
                {
                    AgentWorkspaceError.NotFound => ProblemWriter.Create(context, StatusCodes.Status404NotFound, ProblemCodes.AgentNotFound, workspace.Message + " GET /api/agents lists the agents."),
                    AgentWorkspaceError.AlreadyExists => ProblemWriter.Create(context, StatusCodes.Status409Conflict, ProblemCodes.AgentAlreadyExists, workspace.Message),
                    _ => ProblemWriter.Create(context, StatusCodes.Status412PreconditionFailed, ProblemCodes.AgentVersionMismatch, workspace.Message),
                };
            case ProviderNotConfiguredException provider:
                return ProblemWriter.Create(
                    context,
                    StatusCodes.Status503ServiceUnavailable,
                    ProblemCodes.ProviderNotConfigured,
                    provider.Message,
                    new Dictionary<string, object?> { ["provider"] = provider.ProviderName, ["environmentVariables"] = provider.EnvironmentVariables });
            case BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }:
                return ProblemWriter.Create(context, StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge, this.bodyLimit.TooLargeDetail());
            case BadHttpRequestException bad:
                return ProblemWriter.Create(
                    context,
                    bad.StatusCode,
                    ProblemCodes.HttpError,
                    $"The HTTP request could not be read ({ProblemWriter.ReasonPhrase(bad.StatusCode)}). Check the request line, headers and body framing, then retry.");
            default:
                return ProblemWriter.Create(
                    context,
                    StatusCodes.Status500InternalServerError,
                    ProblemCodes.InternalError,
                    "The server failed unexpectedly. Retry the request; if it fails again, report the correlationId to the operator, who finds the cause in the server log.");
        }
    }
}
