using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing.Scripted;

namespace Kestrel.Cloud.Functions.Tests.EndToEnd;

/// <summary>
/// The real app (real engine, real <c>AgentRunService</c>, real OpenAI SDK client) started by <see cref="ServerHost"/>
/// with its only model provider pointing at a <see cref="ScriptedServer"/>. Every helper is bounded by
/// <see cref="Timeout"/>, so a hang fails the test instead of blocking the run.
/// </summary>
public sealed class EndToEndHost : IAsyncDisposable
{
    /// <summary>The bound of every wait (real time; never a delay used as synchronization).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly bool ownsModel;

    private EndToEndHost(ServerHost host, ScriptedServer model, bool ownsModel)
    {
        this.Host = host;
        this.Model = model;
        this.ownsModel = ownsModel;
    }

    /// <summary>The running app.</summary>
    public ServerHost Host { get; }

    /// <summary>The scripted model server the app's provider talks to.</summary>
    public ScriptedServer Model { get; }

    /// <summary>A client sending the API key.</summary>
    public HttpClient Client => this.Host.Client;

    /// <summary>
    /// Starts the app with provider <c>scripted</c> (type <c>openai</c>, model <c>gpt-test</c>) on <paramref name="model"/>
    /// (a new scripted server when null; one given is not disposed with the host), every environment provider switched
    /// off, and text deltas unbatched (each streamed piece is its own <c>text.delta</c>).
    /// </summary>
    public static async Task<EndToEndHost> StartAsync(Action<ServerHostOptions>? configure = null, ScriptedServer? model = null)
    {
        ScriptedServer scripted = model ?? await ScriptedServer.StartAsync().WaitAsync(Timeout);
        try
        {
            ServerHost host = await ServerHost.StartAsync(o =>
            {
                o.Args.AddRange(ProviderArgs(scripted));
                o.Args.Add("--KestrelCloud:Agents:DeltaBatchInterval=00:00:00");
                configure?.Invoke(o);
            }).WaitAsync(Timeout);
            return new EndToEndHost(host, scripted, model is null);
        }
        catch
        {
            if (model is null)
            {
                await scripted.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>Arguments that make <paramref name="model"/> the only provider.</summary>
    public static IEnumerable<string> ProviderArgs(ScriptedServer model) => AgentsApiHost.NoProviderArgs.Concat(new[]
    {
        "--KestrelCloud:Models:DefaultProvider=scripted",
        "--KestrelCloud:Models:Providers:scripted:Type=openai",
        $"--KestrelCloud:Models:Providers:scripted:BaseUrl={new Uri(model.BaseUri, "v1")}",
        "--KestrelCloud:Models:Providers:scripted:ApiKeys:0=sk-test",
        "--KestrelCloud:Models:Providers:scripted:DefaultModel=gpt-test",
        "--KestrelCloud:Models:Retry:MaxRetryAttempts=0",
    });

    /// <summary>A cancellation token that fires after <see cref="Timeout"/>.</summary>
    public static CancellationToken Deadline() => new CancellationTokenSource(Timeout).Token;

    /// <summary>A message body.</summary>
    public static StringContent Message(string text, string? sessionKey = null) =>
        HttpAssertions.Json(JsonSerializer.Serialize(new { message = text, sessionKey }));

    /// <summary>POSTs a message to <paramref name="agent"/> with the given mode query (e.g. <c>mode=wait</c>).</summary>
    public Task<HttpResponseMessage> PostMessageAsync(string text, string query, string? sessionKey = null, string agent = "default") =>
        this.Client.PostAsync($"/api/agents/{agent}/messages?{query}", Message(text, sessionKey), Deadline());

    /// <summary>Starts a run in async mode and returns its id.</summary>
    public async Task<string> StartRunAsync(string text, string? sessionKey = null)
    {
        HttpResponseMessage response = await this.PostMessageAsync(text, "mode=async", sessionKey);
        return (await response.ShouldBeJsonAsync(HttpStatusCode.Accepted)).GetProperty("runId").GetString()!;
    }

    /// <summary>GET /api/runs/{runId}, asserted 200.</summary>
    public async Task<JsonElement> GetRunAsync(string runId) =>
        await (await this.Client.GetAsync($"/api/runs/{runId}", Deadline())).ShouldBeJsonAsync(HttpStatusCode.OK);

    /// <summary>Polls GET /api/runs/{runId} (bounded by <see cref="Timeout"/>) until its status is <paramref name="status"/>;
    /// fails at once when the run finished in another status.</summary>
    public async Task<JsonElement> WaitForStatusAsync(string runId, string status)
    {
        CancellationToken deadline = Deadline();
        JsonElement run = default;
        while (!deadline.IsCancellationRequested)
        {
            run = await this.GetRunAsync(runId);
            if (run.GetProperty("status").GetString() == status)
            {
                return run;
            }

            if (run.GetProperty("finished").GetBoolean())
            {
                throw new InvalidOperationException($"Run {runId} finished without reaching {status}: {run}");
            }

            // A bounded poll interval, not a synchronization sleep: the loop re-reads the state it waits for.
            await Task.Delay(TimeSpan.FromMilliseconds(25), CancellationToken.None);
        }

        throw new TimeoutException($"Run {runId} did not reach {status} within {Timeout}; last seen: {run}");
    }

    /// <summary>Opens GET /api/runs/{runId}/events (after <paramref name="lastEventId"/> when given).</summary>
    public async Task<SseReader> OpenEventsAsync(string runId, long? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/runs/{runId}/events");
        if (lastEventId is { } id)
        {
            request.Headers.Add("Last-Event-ID", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        SseReader reader = await SseReader.OpenAsync(this.Client, request, Deadline());
        reader.Response.StatusCode.Should().Be(HttpStatusCode.OK);
        return reader;
    }

    /// <summary>Every event of the run until the server closes the stream (after <c>run.finished</c>), bounded.</summary>
    public async Task<List<SseFrame>> ReadAllEventsAsync(string runId, long? lastEventId = null)
    {
        using SseReader reader = await this.OpenEventsAsync(runId, lastEventId);
        return await reader.ReadAllEventsAsync(Deadline());
    }

    /// <summary>Reads the run's event stream until an event of <paramref name="type"/> arrives (bounded) and returns it.</summary>
    public async Task<SseFrame> WaitForEventAsync(string runId, string type)
    {
        using SseReader reader = await this.OpenEventsAsync(runId);
        CancellationToken deadline = Deadline();
        var seen = new List<string?>();
        while (await reader.ReadEventAsync(deadline) is { } frame)
        {
            seen.Add(frame.Event);
            if (frame.Event == type)
            {
                return frame;
            }
        }

        throw new InvalidOperationException($"The event stream of {runId} ended without '{type}'; it had: {string.Join(", ", seen)}");
    }

    /// <summary>The JSON data of an event.</summary>
    public static JsonElement Data(SseFrame frame) => JsonDocument.Parse(frame.Data!).RootElement.Clone();

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await this.Host.DisposeAsync();
        if (this.ownsModel)
        {
            await this.Model.DisposeAsync();
        }
    }
}
