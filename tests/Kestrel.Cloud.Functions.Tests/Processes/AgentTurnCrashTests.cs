using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Testing;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kestrel.Cloud.Functions.Tests.Processes;

/// <summary>
/// An agent turn in the real server process (<c>dotnet Kestrel.Cloud.Functions.dll</c>, SQLite store) killed with
/// SIGKILL mid-turn and restarted on the same data folder. The model is a <see cref="ScriptedServer"/> in the test
/// process; the tool is <c>http_fetch</c> GET against a counting endpoint in the test process (allowed through the SSRF
/// guard with <c>AllowedHosts</c>; a read-only call, so the default policy runs it without approval). Real processes
/// and real time: every wait is bounded, and the children's output is in every failure message.
/// </summary>
public sealed class AgentTurnCrashTests : IAsyncLifetime
{
    private const string ApiKey = "crash-test-key-0123456789abcdef";
    private const string Agent = "fetcher";
    private const string CallId = "call_fetch_1";
    private const string FinalText = "The endpoint answered; all done.";

    /// <summary>Start-up of a child (JIT, SQLite schema, hosted services) on two busy cores.</summary>
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(90);

    /// <summary>From the message to the model call or tool request the test kills the child on.</summary>
    private static readonly TimeSpan ProgressDeadline = TimeSpan.FromSeconds(60);

    /// <summary>From the restart to the finished run: includes the dead child's lock expiring (<see cref="LockDuration"/>).</summary>
    private static readonly TimeSpan FinishDeadline = TimeSpan.FromSeconds(90);

    /// <summary>
    /// The engine's orchestration and activity lock duration in the children: work locked by the killed child is
    /// delivered again this long after its last renewal (the default, 30 s, would only make the test slow).
    /// </summary>
    private const string LockDuration = "00:00:04";

    private readonly ITestOutputHelper output;
    private readonly TempDirectory folder = new("kestrel-turn-crash");
    private readonly List<ServerProcess> children = new();
    private ScriptedServer model = null!;
    private CountingEndpoint endpoint = null!;

    public AgentTurnCrashTests(ITestOutputHelper output) => this.output = output;

    private string DataPath => Path.Combine(this.folder.Path, "data");

    private string FetchArguments => JsonSerializer.Serialize(new { url = new Uri(this.endpoint.BaseUri, CountingEndpoint.PathName).ToString(), method = "GET" });

    public async Task InitializeAsync()
    {
        this.model = await ScriptedServer.StartAsync();
        this.endpoint = await CountingEndpoint.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (ServerProcess child in this.children)
        {
            child.Dispose(); // kills it if it still runs
            this.output.WriteLine($"--- output of {child.Name} ---\n{child.Output}");
        }

        await this.endpoint.DisposeAsync();
        await this.model.DisposeAsync();
        this.folder.Dispose();
    }

    /// <summary>
    /// Proves the issue's scenario: the process is killed with SIGKILL after the tool ran (its result is committed)
    /// while the next model call is in flight; after a restart on the same data folder the CallModel activity runs
    /// again with the same conversation, the tool is not run again, and the turn completes with the model's answer.
    /// </summary>
    [Fact]
    public async Task KilledAfterToolRanDuringNextModelCall_Restarted_ToolNotRunAgainAndTurnCompletes()
    {
        this.model.Enqueue(
            TurnWire.Tools(null, (CallId, "http_fetch", this.FetchArguments)),
            ScriptedResponse.NoAnswer(), // the second model call: held until the child dies
            TurnWire.Text(FinalText));

        ServerProcess first = await this.StartChildAsync("first child");
        await this.CreateAgentAsync(first);
        string runId = await this.SendMessageAsync(first, "Fetch the counter once, then tell me it worked.");

        await this.WaitAsync(this.model.WaitForRequestsAsync(2, ProgressDeadline), "the second model call", first);
        this.endpoint.Hits.Should().Be(1, "the tool ran before the second model call; " + this.Outputs());
        List<JsonElement> before = await EventsAsync(first, runId);
        before.Count(e => Type(e) == "tool.result").Should().Be(1, "the tool's result is in the log before the kill; " + this.Outputs());
        before.Should().NotContain(e => Type(e) == "run.finished", this.Outputs());

        first.Kill();

        ServerProcess second = await this.StartChildAsync("second child");
        JsonElement run = await this.WaitForFinishedRunAsync(second, runId);

        string because = this.Outputs();
        run.GetProperty("status").GetString().Should().Be("Completed", because);
        run.GetProperty("finalText").GetString().Should().Be(FinalText, because);
        this.endpoint.Hits.Should().Be(1, "a tool whose result was recorded is not run again; " + because);
        this.model.Requests.Should().HaveCount(3, "the interrupted model call is made once more, and nothing else; " + because);

        List<JsonElement> events = await EventsAsync(second, runId);
        events.Where(e => Type(e) == "tool.result").Should().ContainSingle(because)
            .Which.GetProperty("data").GetProperty("callId").GetString().Should().Be(CallId);
        events.Count(e => Type(e) == "tool.call.requested").Should().Be(1, because);
        events.Count(e => Type(e) == "run.started").Should().Be(1, because);
        events.Where(e => Type(e) == "run.finished").Should().ContainSingle(because);
        Type(events[^1]).Should().Be("run.finished", "run.finished is always the last event; " + because);
        events[^1].GetProperty("data").GetProperty("status").GetString().Should().Be("completed", because);
        events.Select(e => e.GetProperty("id").GetInt64()).Should().BeInAscendingOrder(because).And.OnlyHaveUniqueItems(because);

        string toolResult = ToolMessage(this.model.Requests[2], because);
        toolResult.Should().Contain(CountingEndpoint.Answer(1), "the final model call carries the tool's recorded result; " + because);
        TurnWire.Messages(this.model.Requests[2]).Should().Equal(
            TurnWire.Messages(this.model.Requests[1]), "the retried model call sends the conversation the killed one sent; " + because);
        await this.AssertCountedOnceAsync(second, run, because);
    }

    /// <summary>
    /// Proves the documented at-least-once rule for unfinished activities: killed while the tool itself runs (the
    /// endpoint holds the request), the restarted server runs the tool again and the turn completes, with a single
    /// <c>tool.result</c> (the retried call's) in the log.
    /// </summary>
    [Fact]
    public async Task KilledWhileToolRuns_Restarted_ToolRunsAgainAndTurnCompletes()
    {
        this.endpoint.HoldFirstRequest = true;
        this.model.Enqueue(
            TurnWire.Tools(null, (CallId, "http_fetch", this.FetchArguments)),
            TurnWire.Text(FinalText));

        ServerProcess first = await this.StartChildAsync("first child");
        await this.CreateAgentAsync(first);
        string runId = await this.SendMessageAsync(first, "Fetch the counter, then tell me it worked.");

        await this.WaitAsync(this.endpoint.FirstRequestArrived, "the tool's request to the counting endpoint", first);
        this.model.Requests.Should().HaveCount(1, this.Outputs());
        (await EventsAsync(first, runId)).Should().NotContain(e => Type(e) == "tool.result", "the tool has not finished; " + this.Outputs());

        first.Kill();

        ServerProcess second = await this.StartChildAsync("second child");
        JsonElement run = await this.WaitForFinishedRunAsync(second, runId);

        string because = this.Outputs();
        run.GetProperty("status").GetString().Should().Be("Completed", because);
        run.GetProperty("finalText").GetString().Should().Be(FinalText, because);
        this.endpoint.Hits.Should().Be(2, "a tool that was running when the process died runs again; " + because);
        this.model.Requests.Should().HaveCount(2, because);

        List<JsonElement> events = await EventsAsync(second, runId);
        JsonElement result = events.Where(e => Type(e) == "tool.result").Should().ContainSingle(because).Subject;
        result.GetProperty("data").GetProperty("callId").GetString().Should().Be(CallId);
        result.GetProperty("data").GetProperty("isError").GetBoolean().Should().BeFalse(because);
        result.GetProperty("data").GetProperty("text").GetString().Should().Contain(CountingEndpoint.Answer(2), because);
        events.Where(e => Type(e) == "run.finished").Should().ContainSingle(because);
        Type(events[^1]).Should().Be("run.finished", because);

        ToolMessage(this.model.Requests[1], because).Should().Contain(CountingEndpoint.Answer(2), "the model gets the retried call's result; " + because);
        await this.AssertCountedOnceAsync(second, run, because);
    }

    /// <summary>
    /// Two answered model calls (100 input and 10 output tokens each in <see cref="TurnWire"/>), whatever was killed:
    /// the run's usage and iterations count each once, and the session holds the turn once (user, assistant with the
    /// tool call, tool result, final answer).
    /// </summary>
    private async Task AssertCountedOnceAsync(ServerProcess child, JsonElement run, string because)
    {
        run.GetProperty("iterations").GetInt32().Should().Be(2, because);
        run.GetProperty("usage").GetProperty("inputTokens").GetInt64().Should().Be(200, because);
        run.GetProperty("usage").GetProperty("outputTokens").GetInt64().Should().Be(20, because);

        using HttpResponseMessage response = await child.Client.GetAsync($"api/sessions/{Agent}/default");
        string body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.OK, $"{body}\n{because}");
        JsonElement session = JsonDocument.Parse(body).RootElement;
        session.GetProperty("messageCount").GetInt32().Should().Be(4, $"{body}\n{because}");
        session.GetProperty("messages").GetArrayLength().Should().Be(4, $"{body}\n{because}");
    }

    private static string Type(JsonElement e) => e.GetProperty("type").GetString()!;

    /// <summary>The text of the single tool message of a recorded Chat Completions request.</summary>
    private static string ToolMessage(RecordedRequest request, string because)
    {
        var tools = TurnWire.Messages(request).Where(m => m.Role == "tool").ToList();
        tools.Should().ContainSingle(because);
        return tools[0].Text;
    }

    private static async Task<List<JsonElement>> EventsAsync(ServerProcess child, string runId)
    {
        using HttpResponseMessage response = await child.Client.GetAsync($"api/runs/{Uri.EscapeDataString(runId)}/events?format=json");
        string body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private async Task<ServerProcess> StartChildAsync(string name)
    {
        var args = new List<string>
        {
            $"--urls=http://127.0.0.1:{TestPorts.GetFreeTcpPort()}",
            $"--KestrelCloud:DataPath={this.DataPath}",
            $"--KestrelCloud:ApiKeys:0={ApiKey}",
            "--KestrelCloud:Durable:Store=sqlite",
            $"--KestrelCloud:Durable:OrchestrationLockDuration={LockDuration}",
            $"--KestrelCloud:Durable:ActivityLockDuration={LockDuration}",
            "--KestrelCloud:Samples:Enabled=false",
            "--KestrelCloud:Models:DefaultProvider=scripted",
            "--KestrelCloud:Models:Providers:scripted:Type=openai-compatible",
            $"--KestrelCloud:Models:Providers:scripted:BaseUrl={new Uri(this.model.BaseUri, "v1")}",
            "--KestrelCloud:Models:Providers:scripted:ApiKeys:0=sk-scripted",
            "--KestrelCloud:Models:Providers:scripted:DefaultModel=gpt-test",
            "--KestrelCloud:Models:Retry:MaxRetryAttempts=0", // every model request the child makes is one the script planned
            $"--KestrelCloud:Tools:HttpFetch:AllowedHosts:0=127.0.0.1:{this.endpoint.BaseUri.Port}",
            "--Logging:LogLevel:Kestrel.Cloud=Debug", // model calls, tool runs and engine steps, for failure messages
            "--Logging:LogLevel:Kestrel.Cloud.Functions.Security=Information",
        };
        ServerProcess child = ServerProcess.Start(name, this.folder.Path, args);
        this.children.Add(child);
        await child.WaitUntilReadyAsync(ReadyDeadline);
        return child;
    }

    private async Task CreateAgentAsync(ServerProcess child)
    {
        using HttpResponseMessage response = await child.Client.PostAsJsonAsync("api/agents", new
        {
            name = Agent,
            agentMarkdown = "---\ndescription: Fetches one URL.\ntools: [http_fetch]\nmax_iterations: 4\ntool_timeout: 2m\n---\nYou fetch the URL the user names and report what it said.",
        });
        string body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.Created, $"{body}\n{this.Outputs()}");
    }

    private async Task<string> SendMessageAsync(ServerProcess child, string message)
    {
        using HttpResponseMessage response = await child.Client.PostAsJsonAsync($"api/agents/{Agent}/messages?mode=async", new { message });
        string body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, $"{body}\n{this.Outputs()}");
        return JsonDocument.Parse(body).RootElement.GetProperty("runId").GetString()!;
    }

    /// <summary>Polls GET /api/runs/{id} until the run is final (bounded by <see cref="FinishDeadline"/>).</summary>
    private async Task<JsonElement> WaitForFinishedRunAsync(ServerProcess child, string runId)
    {
        var elapsed = Stopwatch.StartNew();
        string last = "(no answer yet)";
        while (elapsed.Elapsed < FinishDeadline)
        {
            child.HasExited.Should().BeFalse($"{child.Name} must keep running; {this.Outputs()}");
            using HttpResponseMessage response = await child.Client.GetAsync($"api/runs/{Uri.EscapeDataString(runId)}");
            last = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK)
            {
                JsonElement run = JsonDocument.Parse(last).RootElement.Clone();
                if (run.GetProperty("finished").GetBoolean())
                {
                    return run;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }

        throw new TimeoutException($"The run {runId} did not finish within {FinishDeadline}; last answer: {last}\n{this.Outputs()}");
    }

    /// <summary>Awaits <paramref name="task"/> (itself bounded), failing with the children's output when it fails or the child dies first.</summary>
    private async Task WaitAsync(Task task, string what, ServerProcess child)
    {
        Task exited = child.Exited;
        using var timeout = new CancellationTokenSource(ProgressDeadline);
        Task winner = await Task.WhenAny(task, exited, Task.Delay(Timeout.Infinite, timeout.Token));
        if (winner != task)
        {
            throw new InvalidOperationException($"Waiting for {what}: {(winner == exited ? $"{child.Name} exited" : "timed out")}.\n{this.Outputs()}");
        }

        try
        {
            await task;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            throw new InvalidOperationException($"Waiting for {what}: {ex.Message}\n{this.Outputs()}", ex);
        }
    }

    private string Outputs()
    {
        var text = new StringBuilder();
        foreach (ServerProcess child in this.children)
        {
            text.Append("\n--- output of ").Append(child.Name).Append(child.HasExited ? " (exited)" : string.Empty).AppendLine(" ---").Append(child.Output);
        }

        text.Append("--- model requests: ").Append(this.model.Requests.Count).Append(", counting endpoint hits: ").Append(this.endpoint.Hits).AppendLine(" ---");
        return text.ToString();
    }

    /// <summary>
    /// A tiny HTTP endpoint on 127.0.0.1 that counts GETs of <see cref="PathName"/> and answers "counter hit n".
    /// With <see cref="HoldFirstRequest"/> the first request gets no answer until its client goes away, and
    /// <see cref="FirstRequestArrived"/> completes when it arrives.
    /// </summary>
    private sealed class CountingEndpoint : IAsyncDisposable
    {
        public const string PathName = "/count";
        private readonly WebApplication app;
        private readonly TaskCompletionSource firstArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int hits;

        private CountingEndpoint(WebApplication app, Uri baseUri)
        {
            this.app = app;
            this.BaseUri = baseUri;
        }

        public Uri BaseUri { get; }

        public int Hits => Volatile.Read(ref this.hits);

        public bool HoldFirstRequest { get; set; }

        public Task FirstRequestArrived => this.firstArrived.Task;

        public static string Answer(int hit) => $"counter hit {hit}";

        public static async Task<CountingEndpoint> StartAsync()
        {
            int port = TestPorts.GetFreeTcpPort();
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            builder.Logging.ClearProviders();
            WebApplication app = builder.Build();
            var endpoint = new CountingEndpoint(app, new Uri($"http://127.0.0.1:{port}/"));
            app.MapGet(PathName, endpoint.HandleAsync);
            await app.StartAsync();
            return endpoint;
        }

        public async ValueTask DisposeAsync()
        {
            using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await this.app.StopAsync(stopTimeout.Token);
            await this.app.DisposeAsync();
        }

        private async Task HandleAsync(HttpContext context)
        {
            int hit = Interlocked.Increment(ref this.hits);
            if (hit == 1)
            {
                this.firstArrived.TrySetResult();
                if (this.HoldFirstRequest)
                {
                    try
                    {
                        await Task.Delay(Timeout.Infinite, context.RequestAborted);
                    }
                    catch (OperationCanceledException)
                    {
                    }

                    return;
                }
            }

            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(Answer(hit), context.RequestAborted);
        }
    }

    /// <summary>The server as a child process (<c>dotnet Kestrel.Cloud.Functions.dll args</c>), stdout and stderr captured.</summary>
    private sealed class ServerProcess : IDisposable
    {
        /// <summary>Variables of the test's environment that would change the child's store, address or providers.</summary>
        private static readonly string[] ScrubbedPrefixes =
        {
            "KestrelCloud", "AzureWebJobs", "FUNCTIONS_", "ASPNETCORE_URLS", "ASPNETCORE_HTTP", "DOTNET_URLS",
            "OPENAI_", "ANTHROPIC_", "AZURE_OPENAI_",
        };

        private readonly Process process;
        private readonly StringBuilder log = new();
        private readonly TaskCompletionSource exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ServerProcess(string name, Process process, Uri baseAddress)
        {
            this.Name = name;
            this.process = process;
            this.BaseAddress = baseAddress;
            this.Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
            this.Client.DefaultRequestHeaders.Add("x-api-key", ApiKey);
        }

        public string Name { get; }

        public Uri BaseAddress { get; }

        public HttpClient Client { get; }

        public bool HasExited => this.process.HasExited;

        public Task Exited => this.exited.Task;

        public string Output
        {
            get
            {
                lock (this.log)
                {
                    return this.log.ToString();
                }
            }
        }

        public static ServerProcess Start(string name, string workingDirectory, IReadOnlyList<string> args)
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "Kestrel.Cloud.Functions.dll");
            File.Exists(dll).Should().BeTrue($"the server is built with the tests and copied to {AppContext.BaseDirectory}");
            File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")).Should().BeTrue("dotnet needs the server's runtimeconfig.json next to it");
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workingDirectory, // the content root: no appsettings.json of the caller's folder
            };
            foreach (string key in info.Environment.Keys.ToList())
            {
                if (ScrubbedPrefixes.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase)))
                {
                    info.Environment.Remove(key);
                }
            }

            info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            info.ArgumentList.Add(dll);
            foreach (string arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            string url = args.Single(a => a.StartsWith("--urls=", StringComparison.Ordinal))["--urls=".Length..];
            var result = new ServerProcess(name, new Process { StartInfo = info, EnableRaisingEvents = true }, new Uri(url + "/"));
            result.process.OutputDataReceived += (_, e) => result.Append(e.Data);
            result.process.ErrorDataReceived += (_, e) => result.Append(e.Data);
            result.process.Exited += (_, _) => result.exited.TrySetResult();
            result.process.Start();
            result.process.BeginOutputReadLine();
            result.process.BeginErrorReadLine();
            return result;
        }

        /// <summary>Polls GET /api/ready until it answers 200; fails when the child exits or the deadline passes.</summary>
        public async Task WaitUntilReadyAsync(TimeSpan deadline)
        {
            var elapsed = Stopwatch.StartNew();
            string last = "(no answer yet)";
            while (elapsed.Elapsed < deadline)
            {
                this.HasExited.Should().BeFalse($"{this.Name} exited during start-up with code {(this.HasExited ? this.process.ExitCode : 0)}; its output:\n{this.Output}");
                try
                {
                    using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    using HttpResponseMessage response = await this.Client.GetAsync("api/ready", attempt.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return;
                    }

                    last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                {
                    last = ex.Message; // not listening yet
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }

            throw new TimeoutException($"{this.Name} was not ready within {deadline}; last answer: {last}; its output:\n{this.Output}");
        }

        /// <summary>SIGKILL (on Linux, <see cref="Process.Kill(bool)"/> sends it): no shutdown code runs.</summary>
        public void Kill()
        {
            this.process.Kill(entireProcessTree: true);
            this.process.WaitForExit(TimeSpan.FromSeconds(30)).Should().BeTrue($"{this.Name} must die after SIGKILL");
            this.process.WaitForExit(); // drains the output readers
            this.Append($"[test] {this.Name} killed with SIGKILL");
        }

        public void Dispose()
        {
            if (!this.process.HasExited)
            {
                this.process.Kill(entireProcessTree: true);
                this.process.WaitForExit(TimeSpan.FromSeconds(30));
            }

            this.Client.Dispose();
            this.process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (this.log)
                {
                    this.log.AppendLine(line);
                }
            }
        }
    }
}
