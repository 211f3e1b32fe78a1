using System.Globalization;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>
/// Writes a run's event log as server-sent events: one frame per event (<c>id:</c> the sequence number,
/// <c>event:</c> the type, <c>data:</c> the JSON on one line), a comment line (<c>: heartbeat</c>) when nothing was
/// written for <c>EventStreamHeartbeatInterval</c>, and the end of the response right after the
/// <see cref="RunEventTypes.Finished"/> event. A finished run's stream therefore replays and closes. New events wake
/// the stream at once when appended in this process; events from other processes are found within
/// <c>EventStreamPollInterval</c>.
/// </summary>
public sealed class RunEventStream
{
    /// <summary>The SSE content type.</summary>
    public const string ContentType = "text/event-stream";

    /// <summary>The most events read from the log at once.</summary>
    public const int BatchSize = 1000;

    private static readonly byte[] Heartbeat = Encoding.UTF8.GetBytes(": heartbeat\n\n");
    private readonly IRunEventLog log;
    private readonly IAgentRunService runs;
    private readonly TimeProvider timeProvider;
    private readonly KestrelCloudAgentsApiOptions options;

    /// <summary>Creates the writer.</summary>
    public RunEventStream(IRunEventLog log, IAgentRunService runs, TimeProvider timeProvider, IOptions<KestrelCloudOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.log = log;
        this.runs = runs;
        this.timeProvider = timeProvider;
        this.options = options.Value.AgentsApi;
    }

    /// <summary>
    /// Where to resume: the <c>Last-Event-ID</c> header (what EventSource sends when it reconnects) or else the
    /// <c>after</c> query parameter; 0 (from the start) when neither is given. 400 when malformed.
    /// </summary>
    public static long ReadCursor(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? header = request.Headers["Last-Event-ID"].ToString();
        if (!string.IsNullOrWhiteSpace(header))
        {
            return Parse(header, "Last-Event-ID", "the Last-Event-ID header");
        }

        string? after = QueryParameters.GetString(request.Query, "after", 20);
        return after is null ? 0 : Parse(after, "after", "the query parameter 'after'");
    }

    /// <summary>True when the request asks for SSE in its Accept header.</summary>
    public static bool AcceptsEventStream(HttpRequest request) =>
        request.Headers.Accept.ToString().Contains(ContentType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Streams the run's events after <paramref name="after"/> until its finished event, or until the client leaves.</summary>
    public async Task WriteAsync(HttpContext context, string runId, long after)
    {
        ArgumentNullException.ThrowIfNull(context);
        CancellationToken cancellationToken = context.RequestAborted;
        HttpResponse response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-cache, no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(cancellationToken);
        await response.Body.FlushAsync(cancellationToken);

        long cursor = after;
        DateTimeOffset lastWrite = this.timeProvider.GetUtcNow();
        try
        {
            while (true)
            {
                IReadOnlyList<RunEvent> batch = await this.log.ReadAsync(runId, cursor, BatchSize, cancellationToken);
                if (batch.Count > 0)
                {
                    bool finished = await WriteEventsAsync(response, batch, cancellationToken);
                    cursor = batch[^1].Sequence;
                    lastWrite = this.timeProvider.GetUtcNow();
                    if (finished)
                    {
                        return;
                    }

                    continue;
                }

                if (await this.IsFinalAsync(runId, cancellationToken))
                {
                    // A final run whose log lacks the finished event (it should not happen): send what is left, then end.
                    IReadOnlyList<RunEvent> rest = await this.log.ReadAsync(runId, cursor, BatchSize, cancellationToken);
                    await WriteEventsAsync(response, rest, cancellationToken);
                    return;
                }

                TimeSpan sinceWrite = this.timeProvider.GetUtcNow() - lastWrite;
                TimeSpan untilHeartbeat = this.options.EventStreamHeartbeatInterval - sinceWrite;
                if (untilHeartbeat <= TimeSpan.Zero)
                {
                    await response.Body.WriteAsync(Heartbeat, cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    lastWrite = this.timeProvider.GetUtcNow();
                    continue;
                }

                TimeSpan wait = untilHeartbeat < this.options.EventStreamPollInterval ? untilHeartbeat : this.options.EventStreamPollInterval;
                await this.log.WaitAsync(runId, cursor, wait, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away; the run goes on.
        }
    }

    /// <summary>
    /// One page of events after <paramref name="after"/> (<c>?format=json</c>), for clients that cannot read SSE.
    /// <c>Finished</c> is true once the page ends with the finished event (or the run is final and nothing follows).
    /// </summary>
    public async Task<RunEventsResponse> ReadPageAsync(string runId, long after, CancellationToken cancellationToken)
    {
        IReadOnlyList<RunEvent> batch = await this.log.ReadAsync(runId, after, BatchSize, cancellationToken);
        bool finished = batch.Count > 0 && batch[^1].Type == RunEventTypes.Finished;
        if (!finished && batch.Count < BatchSize && await this.IsFinalAsync(runId, cancellationToken))
        {
            // Read again: events appended just before the run turned final are part of this answer.
            batch = await this.log.ReadAsync(runId, after, BatchSize, cancellationToken);
            finished = batch.Count < BatchSize;
        }

        return new RunEventsResponse(runId, batch.Select(RunEventResponse.From).ToList(), batch.Count > 0 ? batch[^1].Sequence : after, finished);
    }

    /// <summary>One SSE frame: <c>id</c>, <c>event</c> and the data as one line of JSON.</summary>
    public static string Frame(RunEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        // Re-serialising writes the JSON on one line (newlines inside strings are escaped), as SSE requires.
        string data = JsonSerializer.Serialize(e.Data);
        return $"id: {e.Sequence.ToString(CultureInfo.InvariantCulture)}\nevent: {e.Type}\ndata: {data}\n\n";
    }

    private static async Task<bool> WriteEventsAsync(HttpResponse response, IReadOnlyList<RunEvent> events, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        bool finished = false;
        foreach (RunEvent e in events)
        {
            text.Append(Frame(e));
            if (e.Type == RunEventTypes.Finished)
            {
                finished = true;
                break;
            }
        }

        if (text.Length > 0)
        {
            await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
        }

        return finished;
    }

    private static long Parse(string raw, string parameter, string where)
    {
        if (!long.TryParse(raw.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            throw ApiProblemException.InvalidQuery(
                parameter,
                $"{char.ToUpperInvariant(where[0])}{where[1..]} is '{QueryParameters.Echo(raw)}'; it must be the id (sequence number) of the last event received, a whole number of 0 or more, for example 12.");
        }

        return value;
    }

    private async Task<bool> IsFinalAsync(string runId, CancellationToken cancellationToken) =>
        await this.runs.GetAsync(runId, cancellationToken) is { } run && RunResponse.IsFinal(run.Status);
}
