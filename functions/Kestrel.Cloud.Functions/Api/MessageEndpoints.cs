using System.Text.Json;
using Kestrel.Cloud.Agents;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>How the caller of <c>POST /api/agents/{name}/messages</c> wants the answer.</summary>
public enum MessageMode
{
    /// <summary>202 at once, with the run's status, events and cancel links.</summary>
    Async,

    /// <summary>
    /// Wait for the run to finish (200 with the run), up to a timeout; then, or as soon as the run asks a human for an
    /// approval, 202 with the links.
    /// </summary>
    Wait,

    /// <summary>Stream the run's events as SSE on the same response.</summary>
    Stream,
}

/// <summary>
/// <c>POST /api/agents/{name}/messages</c>: starts a turn. Body <c>{"message": "...", "sessionKey": "..."}</c>. The mode is
/// <c>?mode=async|wait|stream</c>; without it, <c>Accept: text/event-stream</c> means stream, a <c>wait</c> parameter
/// means wait, and otherwise async. See docs/http-api.md.
/// </summary>
public static class MessageEndpoints
{
    /// <summary>The longest message accepted, in characters.</summary>
    public const int MaxMessageLength = 100_000;

    /// <summary>The response header naming the run in stream mode.</summary>
    public const string RunIdHeader = "x-run-id";

    private const string Example = "{\"message\":\"Summarise today's news\",\"sessionKey\":\"alice\"}";

    /// <summary>Maps the route.</summary>
    public static IEndpointRouteBuilder MapMessageEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapPost("/api/agents/{name}/messages", PostAsync);
        return endpoints;
    }

    /// <summary>The mode the request asks for.</summary>
    public static MessageMode ReadMode(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? mode = QueryParameters.GetString(request.Query, "mode", 16);
        if (mode is not null)
        {
            return mode.Trim().ToLowerInvariant() switch
            {
                "async" => MessageMode.Async,
                "wait" => MessageMode.Wait,
                "stream" => MessageMode.Stream,
                _ => throw ApiProblemException.InvalidQuery("mode", $"The query parameter 'mode' is '{QueryParameters.Echo(mode)}'; it must be async, wait or stream, for example ?mode=wait&wait=30s."),
            };
        }

        if (RunEventStream.AcceptsEventStream(request))
        {
            return MessageMode.Stream;
        }

        return QueryParameters.GetString(request.Query, "wait", 32) is not null ? MessageMode.Wait : MessageMode.Async;
    }

    /// <summary>How long to wait: <c>?wait=</c> (<c>30s</c>, <c>2m</c>, <c>500ms</c>, or seconds) capped at MaxMessageWait, else DefaultMessageWait.</summary>
    public static TimeSpan ReadWait(HttpRequest request, KestrelCloudAgentsApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        string? raw = QueryParameters.GetString(request.Query, "wait", 32);
        if (raw is null)
        {
            return options.DefaultMessageWait;
        }

        if (!Durations.TryParse(raw, out TimeSpan wait))
        {
            throw ApiProblemException.InvalidQuery("wait", $"The query parameter 'wait' is '{QueryParameters.Echo(raw)}'; it must be a duration such as 30s, 2m or 500ms (or a number of seconds), at most {Durations.Format(options.MaxMessageWait)}.");
        }

        return wait > options.MaxMessageWait ? options.MaxMessageWait : wait;
    }

    private static async Task<IResult> PostAsync(string name, HttpContext context, IServiceProvider services)
    {
        AgentEndpoints.ValidateRouteName(name);
        MessageMode mode = ReadMode(context.Request);
        KestrelCloudAgentsApiOptions options = services.GetRequiredService<IOptions<KestrelCloudOptions>>().Value.AgentsApi;
        TimeSpan wait = mode == MessageMode.Wait ? ReadWait(context.Request, options) : TimeSpan.Zero;

        JsonElement body = JsonFields.RequireObject(
            await JsonBody.ReadOptionalAsync(context.Request, services.GetRequiredService<HttpBodyLimit>(), context.RequestAborted), Example);
        string message = JsonFields.GetRequiredString(body, "message", MaxMessageLength, "\"Summarise today's news\"");
        string? sessionKey = JsonFields.GetOptionalString(body, "sessionKey", SessionKeys.MaxLength + 1);
        if (sessionKey is not null && !SessionKeys.IsValid(sessionKey))
        {
            throw JsonFields.Invalid("sessionKey", $"The field 'sessionKey' is '{QueryParameters.Echo(sessionKey)}'; use 1-{SessionKeys.MaxLength} letters, digits or - _ . : @ (for example 'alice' or 'telegram:1234'), or leave it out for the '{SessionKeys.Default}' session.");
        }

        if (!await services.GetRequiredService<IAgentWorkspace>().ExistsAsync(name, context.RequestAborted))
        {
            throw AgentEndpoints.NotFound(name);
        }

        IAgentRunService runs = services.GetRequiredService<IAgentRunService>();
        RunInfo run;
        try
        {
            run = await runs.StartAsync(new StartRunRequest(name, message, sessionKey), context.RequestAborted);
        }
        catch (ArgumentException ex)
        {
            // The run service's argument errors are written for callers (message too long, bad session key).
            throw new ApiProblemException(StatusCodes.Status400BadRequest, ProblemCodes.InvalidField, WithoutParameterSuffix(ex));
        }

        Log.RunStarted(services.GetRequiredService<ILoggerFactory>().CreateLogger(Log.Category), run.RunId, run.Agent, run.SessionKey, mode.ToString().ToLowerInvariant());
        RunLinks links = RunLinks.For(context.Request, run.RunId);
        switch (mode)
        {
            case MessageMode.Stream:
                context.Response.Headers[RunIdHeader] = run.RunId;
                context.Response.Headers.Location = links.Status;
                await services.GetRequiredService<RunEventStream>().WriteAsync(context, run.RunId, after: 0);
                return TypedResults.Empty;
            case MessageMode.Wait when wait > TimeSpan.Zero:
                return await WaitAsync(context, services, runs, run, links, wait, options);
            default:
                return TypedResults.Accepted(links.Status, new RunAcceptedResponse(run.RunId, run.Status, links));
        }
    }

    private static async Task<IResult> WaitAsync(HttpContext context, IServiceProvider services, IAgentRunService runs, RunInfo started, RunLinks links, TimeSpan wait, KestrelCloudAgentsApiOptions options)
    {
        using var timeout = new CancellationTokenSource(wait, services.GetRequiredService<TimeProvider>());
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, context.RequestAborted);
        Task<RunInfo> completion = runs.WaitForCompletionAsync(started.RunId, linked.Token);
        Task approval = WaitForApprovalRequestAsync(services.GetRequiredService<IRunEventLog>(), started.RunId, options.EventStreamPollInterval, linked.Token);
        try
        {
            if (await Task.WhenAny(completion, approval) == completion)
            {
                try
                {
                    return TypedResults.Ok(RunResponse.From(context.Request, await completion));
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
                {
                    // The wait elapsed: answer 202 below.
                }
            }

            // The run waits for a human (which may take days), or the wait elapsed: answer like async mode.
            if (approval.IsFaulted)
            {
                // Or the event log could not be read. The run was started and goes on, so still answer 202 with its links
                // (a 5xx would invite a retry that starts a second run), but say why the wait ended early.
                Log.ApprovalWatchFailed(
                    services.GetRequiredService<ILoggerFactory>().CreateLogger(Log.Category), started.RunId, approval.Exception.GetBaseException());
            }

            RunInfo current = await runs.GetAsync(started.RunId, context.RequestAborted) ?? started;
            if (approval.IsCompletedSuccessfully)
            {
                current = await WaitWhileRunningAsync(services, runs, current, options.EventStreamPollInterval, linked.Token);
            }

            return TypedResults.Accepted(links.Status, new RunAcceptedResponse(current.RunId, current.Status, links));
        }
        finally
        {
            // Whatever happened, stop the other wait before the token sources go away.
            await linked.CancelAsync();
            await Observe(approval);
            await Observe(completion);
        }
    }

    /// <summary>
    /// approval.requested is appended by an activity one engine step before the run shows WaitingForApproval with its
    /// pending calls and links: waits (signalled by the store, re-checked every <paramref name="pollInterval"/>, within
    /// the request's wait) for that step, so the 202 names the status a GET of the run then shows.
    /// </summary>
    private static async Task<RunInfo> WaitWhileRunningAsync(IServiceProvider services, IAgentRunService runs, RunInfo current, TimeSpan pollInterval, CancellationToken cancellationToken)
    {
        Durable.Storage.IOrchestrationStore? store = services.GetService<Durable.Storage.IOrchestrationStore>();
        while (current.Status == RunStatus.Running && !cancellationToken.IsCancellationRequested)
        {
            Task changed = store?.Signals.WhenInstanceChanged(current.RunId) ?? Task.CompletedTask;
            try
            {
                current = await runs.GetAsync(current.RunId, cancellationToken) ?? current;
                if (current.Status != RunStatus.Running)
                {
                    break;
                }

                await Task.WhenAny(changed, Task.Delay(pollInterval, cancellationToken));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
        }

        return current;
    }

    /// <summary>Completes when the run's log holds an <see cref="RunEventTypes.ApprovalRequested"/> event; never otherwise (cancel it).</summary>
    private static async Task WaitForApprovalRequestAsync(IRunEventLog log, string runId, TimeSpan pollInterval, CancellationToken cancellationToken)
    {
        long cursor = 0;
        while (true)
        {
            IReadOnlyList<RunEvent> batch = await log.ReadAsync(runId, cursor, RunEventStream.BatchSize, cancellationToken);
            foreach (RunEvent e in batch)
            {
                if (e.Type == RunEventTypes.ApprovalRequested)
                {
                    return;
                }
            }

            if (batch.Count > 0)
            {
                cursor = batch[^1].Sequence;
                continue;
            }

            await log.WaitAsync(runId, cursor, pollInterval, cancellationToken);
        }
    }

    /// <summary>Awaits a task on the clean-up path: its outcome was already used (or no longer matters), so nothing escapes.</summary>
    private static async Task Observe(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            // Cancelled by us, or failed after the answer was decided; an unexpected failure was already thrown by the first await
            // (completion) or logged (a failed approval watch).
        }
    }

    /// <summary>An <see cref="ArgumentException"/>'s message without the " (Parameter 'x')" suffix.</summary>
    internal static string WithoutParameterSuffix(ArgumentException ex)
    {
        string message = ex.Message;
        int cut = ex.ParamName is null ? -1 : message.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return cut < 0 ? message : message[..cut];
    }
}
