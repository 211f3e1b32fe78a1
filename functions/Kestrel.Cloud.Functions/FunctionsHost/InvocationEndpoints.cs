using System.Text.Json;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Functions.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.FunctionsHost;

/// <summary>
/// The endpoints the Azure Functions host calls for the non-HTTP triggers (function folders under
/// <c>functions/host/</c>): <c>POST /{FunctionName}</c> with <c>{"Data": ..., "Metadata": ...}</c>. Mapped only under
/// the Functions host, where the app listens on 127.0.0.1 alone; they need no API key. A 2xx answer tells the host the
/// invocation succeeded (it deletes the queue message); any other status makes it retry the message.
/// </summary>
internal static class InvocationEndpoints
{
    /// <summary>The queue trigger on <c>{hub}-control</c>: orchestration wake-ups.</summary>
    public const string ControlQueueFunction = "ControlQueue";

    /// <summary>The queue trigger on <c>{hub}-activities</c>: activity messages.</summary>
    public const string ActivityQueueFunction = "ActivityQueue";

    /// <summary>The timer trigger running <see cref="Housekeeping"/>.</summary>
    public const string HousekeepingFunction = "Housekeeping";

    /// <summary>The binding name of the queue message in the queue triggers' function.json.</summary>
    public const string MessageBinding = "message";

    private static readonly JsonSerializerOptions ReplyJson = new();

    /// <summary>Maps the trigger endpoints.</summary>
    public static IEndpointRouteBuilder MapFunctionsInvocationEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/" + ControlQueueFunction, (Delegate)((HttpContext context) => QueueAsync(context, ControlQueueFunction))).AllowAnonymous();
        endpoints.MapPost("/" + ActivityQueueFunction, (Delegate)((HttpContext context) => QueueAsync(context, ActivityQueueFunction))).AllowAnonymous();
        endpoints.MapPost("/" + HousekeepingFunction, HousekeepingAsync).AllowAnonymous();
        return endpoints;
    }

    private static async Task<IResult> QueueAsync(HttpContext context, string function)
    {
        IServiceProvider services = context.RequestServices;
        ILogger logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(Log.Category);
        var result = new InvocationResult();
        CancellationToken cancellationToken = context.RequestAborted;
        string messageId = "(unknown)";
        try
        {
            if (services.GetService<AzureStorageOrchestrationStore>() is not { } store)
            {
                throw new InvalidOperationException(
                    $"The {function} queue trigger needs the Azure Storage store; set AzureWebJobsStorage and leave KestrelCloud:Durable:Store empty or 'azure-storage'.");
            }

            InvocationPayload payload = await ReadPayloadAsync(context.Request, cancellationToken).ConfigureAwait(false);
            string text = payload.DataText(MessageBinding)
                ?? throw new FormatException($"The invocation data has no '{MessageBinding}' (the queue trigger's binding name in function.json).");
            messageId = payload.RequiredMetadataText("Id");
            string popReceipt = payload.RequiredMetadataText("PopReceipt");
            long dequeueCount = payload.MetadataInt64("DequeueCount");

            DurableTaskWorker worker = services.GetRequiredService<DurableTaskWorker>();
            TimeSpan lockDuration = function == ActivityQueueFunction ? worker.Options.ActivityLockDuration : worker.Options.OrchestrationLockDuration;
            QueueWorkItem? item = await store.TryLockFromQueueMessageAsync(text, messageId, popReceipt, dequeueCount, lockDuration, cancellationToken).ConfigureAwait(false);
            string outcome;
            if (item is null)
            {
                outcome = "no work (consumed, re-scheduled or poisoned by the store)";
            }
            else if (item.Kind == WorkItemKind.Orchestration)
            {
                await worker.ProcessOrchestrationAsync(item.Orchestration!, cancellationToken).ConfigureAwait(false);
                outcome = $"orchestration step for instance {item.Orchestration!.Instance.InstanceId}";
            }
            else
            {
                await worker.ProcessActivityAsync(item.Activity!, cancellationToken).ConfigureAwait(false);
                outcome = $"activity {item.Activity!.Request.Name} for instance {item.Activity.Request.InstanceId}";
            }

            Log.QueueMessageProcessed(logger, function, messageId, dequeueCount, outcome);
            result.Logs.Add($"Queue message {messageId} (dequeue {dequeueCount}): {outcome}.");
            return Results.Json(result, ReplyJson, statusCode: StatusCodes.Status200OK);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.QueueMessageFailed(logger, function, messageId, ex);
            result.Logs.Add($"Queue message {messageId} failed ({ex.GetType().Name}): {ex.Message} The host retries it.");
            int status = ex is FormatException ? StatusCodes.Status400BadRequest : StatusCodes.Status500InternalServerError;
            return Results.Json(result, ReplyJson, statusCode: status);
        }
    }

    private static async Task<IResult> HousekeepingAsync(HttpContext context, Housekeeping housekeeping, ILoggerFactory loggerFactory)
    {
        ILogger logger = loggerFactory.CreateLogger(Log.Category);
        var result = new InvocationResult();
        try
        {
            HousekeepingResult done = await housekeeping.RunAsync(context.RequestAborted).ConfigureAwait(false);
            Log.HousekeepingDone(logger, done.WakeUpsSent, done.InstancesPurged, done.ApprovalLinksPurged);
            result.Logs.Add(
                $"Housekeeping: {done.WakeUpsSent} wake-up(s) sent, {done.InstancesPurged} finished instance(s) purged, " +
                $"{done.ApprovalLinksPurged} expired approval link(s) forgotten.");
            return Results.Json(result, ReplyJson, statusCode: StatusCodes.Status200OK);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            Log.HousekeepingFailed(logger, ex);
            result.Logs.Add($"Housekeeping failed ({ex.GetType().Name}): {ex.Message}");
            return Results.Json(result, ReplyJson, statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    private static async Task<InvocationPayload> ReadPayloadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return InvocationPayload.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }
}
