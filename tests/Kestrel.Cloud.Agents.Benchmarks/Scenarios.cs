using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Definitions;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Agents.Benchmarks;

public sealed record OverheadResult(
    int Turns,
    int WarmupTurns,
    Distribution EndToEndMs,
    Distribution ModelMs,
    Distribution OverheadMs,
    Distribution StartToFirstModelCallMs,
    Distribution ToolStep1Ms,
    Distribution ToolStep2Ms,
    Distribution LastModelCallToResponseMs,
    Distribution NoopModelRoundTripMs,
    Distribution NoopModelHandlerMs,
    Distribution AgentDefinitionLoadMs,
    double CpuMsPerTurn,
    double[] RawEndToEndMs,
    double[] RawModelMs,
    double[] RawOverheadMs);

public sealed record FirstTokenResult(int Runs, int WarmupRuns, int Missed, Distribution FirstTokenToFirstSseMs, Distribution PostToFirstTokenMs, double[] RawMs);

public sealed record ParkedResult(
    int Runs,
    int Parked,
    int Concurrency,
    double StartAllMs,
    double ParkedPerSecond,
    IReadOnlyList<MemorySnapshot> Memory,
    double? DatabaseFilesMb,
    IReadOnlyDictionary<string, double> DatabaseFileMb);

/// <summary>The three scenarios of the agent benchmark.</summary>
public static class Scenarios
{
    private const string MessagesPath = "api/agents/default/messages";

    /// <summary>
    /// Sequential three-step turns (model → files_list → model → files_list → model → text) with ?mode=wait.
    /// End to end = POST sent to response read; model time = the sum of the model server's request-arrival to
    /// response-completed times of the turn's three calls; overhead = the difference.
    /// </summary>
    public static async Task<OverheadResult> TurnOverheadAsync(BenchServer server, ZeroLatencyModel model, int turns, int warmup)
    {
        var endToEnd = new List<double>();
        var modelMs = new List<double>();
        var overhead = new List<double>();
        var start = new List<double>();
        var step1 = new List<double>();
        var step2 = new List<double>();
        var finish = new List<double>();
        TimeSpan cpuBefore = TimeSpan.Zero;
        for (int i = 0; i < warmup + turns; i++)
        {
            if (i == warmup)
            {
                cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            }

            model.TakeCalls();
            long t0 = Stopwatch.GetTimestamp();
            using HttpResponseMessage response = await server.Client.PostAsJsonAsync(
                $"{MessagesPath}?mode=wait&wait=60s", new { message = $"turn {i}: list my files twice", sessionKey = $"o{i}" });
            string body = await response.Content.ReadAsStringAsync();
            long t1 = Stopwatch.GetTimestamp();
            if (response.StatusCode != HttpStatusCode.OK || !body.Contains("\"Completed\"", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Turn {i} did not complete: {(int)response.StatusCode} {body}");
            }

            List<ModelCall> calls = model.TakeCalls().OrderBy(c => c.Arrived).ToList();
            if (calls.Count != 3)
            {
                throw new InvalidOperationException($"Turn {i} made {calls.Count} model calls, expected 3: {body}");
            }

            if (i < warmup)
            {
                continue;
            }

            double e2e = Machine.Ms(t0, t1);
            double m = calls.Sum(c => c.Ms);
            endToEnd.Add(e2e);
            modelMs.Add(m);
            overhead.Add(e2e - m);
            start.Add(Machine.Ms(t0, calls[0].Arrived));
            step1.Add(Machine.Ms(calls[0].Completed, calls[1].Arrived));
            step2.Add(Machine.Ms(calls[1].Completed, calls[2].Arrived));
            finish.Add(Machine.Ms(calls[2].Completed, t1));
        }

        double cpuMsPerTurn = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / turns;
        (Distribution roundTrip, Distribution handler) = await NoopModelCallsAsync(model, Math.Max(turns, 100));
        Distribution agentLoad = await AgentDefinitionLoadsAsync(server, Math.Max(turns, 100));
        return new OverheadResult(
            turns, warmup, Distribution.Of(endToEnd), Distribution.Of(modelMs), Distribution.Of(overhead), Distribution.Of(start),
            Distribution.Of(step1), Distribution.Of(step2), Distribution.Of(finish), roundTrip, handler, agentLoad, cpuMsPerTurn,
            endToEnd.ToArray(), modelMs.ToArray(), overhead.ToArray());
    }

    /// <summary>
    /// The time of one <see cref="IAgentWorkspace.GetAgentAsync"/> of the default agent in the running server: a turn
    /// loads the agent in LoadContext and in each CallModel (four times for the three-step turn).
    /// </summary>
    private static async Task<Distribution> AgentDefinitionLoadsAsync(BenchServer server, int count)
    {
        IAgentWorkspace workspace = server.Services.GetRequiredService<IAgentWorkspace>();
        var times = new List<double>();
        for (int i = 0; i < count + 20; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            _ = await workspace.GetAgentAsync("default") ?? throw new InvalidOperationException("The default agent is missing.");
            if (i >= 20)
            {
                times.Add(Machine.Ms(t0, Stopwatch.GetTimestamp()));
            }
        }

        return Distribution.Of(times);
    }

    /// <summary>
    /// The HTTP cost of one model call without the product: a plain HttpClient posts a Chat Completions request of
    /// the turn's size to the model server and reads the whole streamed answer; the round trip minus the server's own
    /// time is what loopback HTTP adds to every model call.
    /// </summary>
    private static async Task<(Distribution RoundTrip, Distribution Handler)> NoopModelCallsAsync(ZeroLatencyModel model, int count)
    {
        using var client = new HttpClient();
        var uri = new Uri(model.BaseUri + "/chat/completions");
        string request = JsonSerializer.Serialize(new
        {
            model = "gpt-test",
            stream = true,
            messages = new object[]
            {
                new { role = "system", content = new string('s', 2000) },
                new { role = "user", content = "noop" },
            },
        });
        var roundTrips = new List<double>();
        var handlers = new List<double>();
        for (int i = 0; i < count + 20; i++)
        {
            model.TakeCalls();
            long t0 = Stopwatch.GetTimestamp();
            using var content = new StringContent(request, Encoding.UTF8, "application/json");
            using HttpResponseMessage response = await client.PostAsync(uri, content);
            await response.Content.ReadAsByteArrayAsync();
            long t1 = Stopwatch.GetTimestamp();
            List<ModelCall> calls = model.TakeCalls();
            if (i >= 20 && calls.Count == 1)
            {
                roundTrips.Add(Machine.Ms(t0, t1));
                handlers.Add(calls[0].Ms);
            }
        }

        return (Distribution.Of(roundTrips), Distribution.Of(handlers));
    }

    /// <summary>
    /// Runs with ?mode=stream whose model writes and flushes one token, then holds the rest of its answer until the
    /// client has seen the first text.delta SSE event. Measures model flush → client sees the event.
    /// </summary>
    public static async Task<FirstTokenResult> FirstTokenAsync(BenchServer server, ZeroLatencyModel model, int runs, int warmup)
    {
        var latencies = new List<double>();
        var postToToken = new List<double>();
        int missed = 0;
        for (int i = 0; i < warmup + runs; i++)
        {
            Task<long> flushed = model.ArmStream();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{MessagesPath}?mode=stream")
            {
                Content = JsonContent.Create(new { message = $"stream {i}: say hello", sessionKey = $"s{i}" }),
            };
            long posted = Stopwatch.GetTimestamp();
            using HttpResponseMessage response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            long? seen = null;
            bool finished = false;
            using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            // If the first event never comes before the release, do not wait for the model's 30 s bound.
            using CancellationTokenRegistration releaseOnTimeout = guard.Token.Register(model.ReleaseStream);
            while (await reader.ReadLineAsync() is { } line)
            {
                if (seen is null && line == "event: text.delta")
                {
                    seen = Stopwatch.GetTimestamp();
                    model.ReleaseStream();
                }
                else if (line == "event: run.finished")
                {
                    finished = true;
                }
            }

            if (!finished)
            {
                throw new InvalidOperationException($"Stream {i} ended without run.finished.");
            }

            if (seen is null || !flushed.IsCompletedSuccessfully)
            {
                missed++;
                continue;
            }

            if (i >= warmup)
            {
                latencies.Add(Machine.Ms(flushed.Result, seen.Value));
                postToToken.Add(Machine.Ms(posted, flushed.Result));
            }
        }

        return new FirstTokenResult(runs, warmup, missed, Distribution.Of(latencies), Distribution.Of(postToToken), latencies.ToArray());
    }

    /// <summary>
    /// Starts <paramref name="runs"/> runs whose model asks for files_write (ask under the default policy), waits until
    /// all are WaitingForApproval, forces a full GC and reads the process memory.
    /// </summary>
    public static async Task<ParkedResult> ParkedRunsAsync(BenchServer server, int runs, int concurrency, List<MemorySnapshot> memory, Action<string> progress)
    {
        using var gate = new SemaphoreSlim(concurrency);
        long t0 = Stopwatch.GetTimestamp();
        int done = 0;
        Task[] starts = Enumerable.Range(0, runs).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                // ?mode=wait answers 202 as soon as the run asks for an approval.
                using HttpResponseMessage response = await server.Client.PostAsJsonAsync(
                    $"{MessagesPath}?mode=wait&wait=120s", new { message = $"write {i}: save a file", sessionKey = $"p{i}" });
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    throw new InvalidOperationException($"Run {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }

                if (Interlocked.Increment(ref done) % 250 == 0)
                {
                    progress($"{done} runs asked for approval");
                }
            }
            finally
            {
                gate.Release();
            }
        }).ToArray();
        await Task.WhenAll(starts);

        // Confirm through the API: every run is parked.
        int parked = 0;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(2))
        {
            parked = await CountAsync(server, "WaitingForApproval");
            if (parked >= runs)
            {
                break;
            }

            await Task.Delay(250);
        }

        double startAllMs = Machine.Ms(t0, Stopwatch.GetTimestamp());
        memory.Add(MemorySnapshot.Take("parked, before GC", fullGc: false));
        await Task.Delay(1000); // let background work (WAL checkpoint, cache trims) settle
        memory.Add(MemorySnapshot.Take("parked, after full GC", fullGc: true));
        Dictionary<string, double> files = Directory.EnumerateFiles(server.DataPath, "*.db*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(server.DataPath, f), f => new FileInfo(f).Length / (1024.0 * 1024.0));
        return new ParkedResult(runs, parked, concurrency, startAllMs, runs / (startAllMs / 1000), memory, files.Values.Sum(), files);
    }

    private static async Task<int> CountAsync(BenchServer server, string status)
    {
        int count = 0;
        string? token = null;
        do
        {
            string url = $"api/runs?agent=default&status={status}&top=1000" + (token is null ? string.Empty : $"&continuationToken={Uri.EscapeDataString(token)}");
            using JsonDocument page = JsonDocument.Parse(await server.Client.GetStringAsync(url));
            count += page.RootElement.GetProperty("runs").GetArrayLength();
            token = page.RootElement.TryGetProperty("continuationToken", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        }
        while (token is not null);
        return count;
    }
}
