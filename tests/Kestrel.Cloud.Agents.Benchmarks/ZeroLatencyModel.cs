using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Testing;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Agents.Benchmarks;

/// <summary>One model call as the model server saw it: Stopwatch timestamps of the request's arrival and of the response being completely written.</summary>
public readonly record struct ModelCall(long Arrived, long Completed)
{
    public double Ms => Stopwatch.GetElapsedTime(this.Arrived, this.Completed).TotalMilliseconds;
}

/// <summary>
/// A zero-latency OpenAI-compatible Chat Completions server (Kestrel on 127.0.0.1), stateless so concurrent runs can
/// share it: the answer depends on the conversation it is sent. Unlike <see cref="ScriptedServer"/> it keeps no
/// per-request record beyond two timestamps, and answers from pre-serialised bytes.
/// <list type="bullet">
/// <item>user message "turn ...": <c>files_list</c>, then <c>files_list</c> again, then the final text (3 calls, 2 tool steps);</item>
/// <item>"write ...": a <c>files_write</c> call (asks for approval under the default policy);</item>
/// <item>"stream ...": the first token is written and flushed, then the rest waits for <see cref="ReleaseStream"/>;</item>
/// <item>anything else: a short text.</item>
/// </list>
/// </summary>
public sealed class ZeroLatencyModel : IAsyncDisposable
{
    private static readonly byte[] ListFirst = Bytes(TurnWire.Tools(null, ("call_1", "files_list", """{"path":"."}""")));
    private static readonly byte[] ListSecond = Bytes(TurnWire.Tools(null, ("call_2", "files_list", """{"path":"."}""")));
    private static readonly byte[] FinalText = Bytes(TurnWire.Text("Done: the folder holds notes.txt."));
    private static readonly byte[] Write = Bytes(TurnWire.Tools(null, ("call_w", "files_write", """{"path":"out.txt","content":"hello"}""")));
    private static readonly byte[] ShortText = Bytes(TurnWire.Text("ok"));
    private static readonly (byte[] Head, byte[] Tail) Streamed = Split(TurnWire.Text("Hello", " world, and the rest of the answer."), headEvents: 2);

    private readonly WebApplication app;
    private readonly ConcurrentQueue<ModelCall> calls = new();
    private TaskCompletionSource<long> firstTokenFlushed = NewSource();
    private TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ZeroLatencyModel(WebApplication app, Uri baseUri)
    {
        this.app = app;
        this.BaseUri = baseUri;
    }

    /// <summary>http://127.0.0.1:{port}/v1 (the provider's BaseUrl).</summary>
    public Uri BaseUri { get; }

    public static async Task<ZeroLatencyModel> StartAsync()
    {
        int port = TestPorts.GetFreeTcpPort();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        var model = new ZeroLatencyModel(app, new Uri($"http://127.0.0.1:{port}/v1"));
        app.Run(model.HandleAsync);
        await app.StartAsync();
        return model;
    }

    /// <summary>Takes (and forgets) the calls recorded so far.</summary>
    public List<ModelCall> TakeCalls()
    {
        var taken = new List<ModelCall>();
        while (this.calls.TryDequeue(out ModelCall call))
        {
            taken.Add(call);
        }

        return taken;
    }

    /// <summary>Arms the next "stream" call: returns a task completing with the Stopwatch timestamp at which its first token was flushed.</summary>
    public Task<long> ArmStream()
    {
        this.release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        this.firstTokenFlushed = NewSource();
        return this.firstTokenFlushed.Task;
    }

    /// <summary>Lets the held "stream" call write the rest of its answer.</summary>
    public void ReleaseStream() => this.release.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        this.release.TrySetResult();
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await this.app.StopAsync(stopTimeout.Token);
        await this.app.DisposeAsync();
    }

    private static TaskCompletionSource<long> NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static byte[] Bytes(ScriptedResponse response) => Encoding.UTF8.GetBytes(string.Concat(response.SseEvents!));

    private static (byte[] Head, byte[] Tail) Split(ScriptedResponse response, int headEvents) =>
        (Encoding.UTF8.GetBytes(string.Concat(response.SseEvents!.Take(headEvents))), Encoding.UTF8.GetBytes(string.Concat(response.SseEvents!.Skip(headEvents))));

    private async Task HandleAsync(HttpContext context)
    {
        long arrived = Stopwatch.GetTimestamp();
        using JsonDocument request = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        (string lastUser, int toolResults) = Inspect(request.RootElement);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        if (lastUser.StartsWith("stream", StringComparison.Ordinal))
        {
            TaskCompletionSource<long> flushed = this.firstTokenFlushed;
            Task released = this.release.Task;
            await context.Response.Body.WriteAsync(Streamed.Head, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            flushed.TrySetResult(Stopwatch.GetTimestamp());
            await released.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
            await context.Response.Body.WriteAsync(Streamed.Tail, context.RequestAborted);
            await context.Response.CompleteAsync();
            return; // not counted as a zero-latency call: it waits on purpose
        }

        byte[] answer = lastUser switch
        {
            _ when lastUser.StartsWith("turn", StringComparison.Ordinal) => toolResults switch
            {
                0 => ListFirst,
                1 => ListSecond,
                _ => FinalText,
            },
            _ when lastUser.StartsWith("write", StringComparison.Ordinal) => toolResults == 0 ? Write : ShortText,
            _ => ShortText,
        };
        await context.Response.Body.WriteAsync(answer, context.RequestAborted);
        await context.Response.CompleteAsync();
        this.calls.Enqueue(new ModelCall(arrived, Stopwatch.GetTimestamp()));
    }

    private static (string LastUser, int ToolResults) Inspect(JsonElement root)
    {
        string lastUser = string.Empty;
        int toolResults = 0;
        foreach (JsonElement message in root.GetProperty("messages").EnumerateArray())
        {
            string? role = message.GetProperty("role").GetString();
            if (role == "tool")
            {
                toolResults++;
            }
            else if (role == "user" && message.TryGetProperty("content", out JsonElement content))
            {
                lastUser = content.ValueKind switch
                {
                    JsonValueKind.String => content.GetString() ?? string.Empty,
                    JsonValueKind.Array => string.Concat(content.EnumerateArray().Select(p => p.TryGetProperty("text", out JsonElement t) ? t.GetString() : string.Empty)),
                    _ => string.Empty,
                };
                toolResults = 0; // tool results of an earlier turn do not count
            }
        }

        return (lastUser, toolResults);
    }
}
