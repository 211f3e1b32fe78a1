using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json;
using Kestrel.Cloud.Agents.Benchmarks;

// Usage: dotnet run -c Release --project tests/Kestrel.Cloud.Agents.Benchmarks -- [--scenario all|overhead|first-token|parked]
//        [--turns N] [--warmup N] [--stream-runs N] [--runs N] [--concurrency N] [--server-arg --Key=Value]... [--out file.json]
const string UsageText = "Usage: Kestrel.Cloud.Agents.Benchmarks [--scenario all|overhead|first-token|parked] [--turns N] [--warmup N] [--stream-runs N] [--runs N] [--concurrency N] [--server-arg --Key=Value]... [--out <file.json>]";
var serverArgs = new List<string>();
string scenario = "all";
string? outPath = null;
int turns = 200, warmup = 30, streamRuns = 200, parkedRuns = 1000, concurrency = 16;
for (int i = 0; i < args.Length; i++)
{
    bool Number(out int value) => int.TryParse(i + 1 < args.Length ? args[i + 1] : null, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0;
    switch (args[i])
    {
        case "--scenario" when i + 1 < args.Length && args[i + 1] is "all" or "overhead" or "first-token" or "parked":
            scenario = args[++i];
            break;
        case "--turns" when Number(out int n):
            turns = n;
            i++;
            break;
        case "--warmup" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int w):
            warmup = w;
            i++;
            break;
        case "--stream-runs" when Number(out int n):
            streamRuns = n;
            i++;
            break;
        case "--runs" when Number(out int n):
            parkedRuns = n;
            i++;
            break;
        case "--concurrency" when Number(out int n):
            concurrency = n;
            i++;
            break;
        case "--server-arg" when i + 1 < args.Length:
            serverArgs.Add(args[++i]);
            break;
        case "--out" when i + 1 < args.Length:
            outPath = args[++i];
            break;
        default:
            Console.Error.WriteLine(UsageText);
            return 2;
    }
}

#if DEBUG
Console.WriteLine("WARNING: a Debug build; run with -c Release for meaningful figures.");
#endif

string? loadStart = Machine.LoadAverage();
var startedAt = DateTime.UtcNow;
var memory = new List<MemorySnapshot> { MemorySnapshot.Take("process start", fullGc: true) };
Console.WriteLine($"Load average at start: {loadStart}; {Environment.ProcessorCount} processors; server GC: {GCSettings.IsServerGC}");

OverheadResult? overhead = null;
FirstTokenResult? firstToken = null;
ParkedResult? parked = null;
await using (ZeroLatencyModel model = await ZeroLatencyModel.StartAsync())
{
    memory.Add(MemorySnapshot.Take("model server started", fullGc: true));

    // The memory scenario runs first, in its own server, so the other scenarios' leftovers are not counted.
    if (scenario is "all" or "parked")
    {
        await using BenchServer server = await BenchServer.StartAsync(model.BaseUri, serverArgs);
        // Warm the path once (JIT, connection pools, SQLite) so "before" is the server ready to work.
        await Scenarios.ParkedRunsAsync(server, runs: 1, concurrency: 1, new List<MemorySnapshot>(), _ => { });
        memory.Add(MemorySnapshot.Take("server started, 1 run parked (before)", fullGc: true));
        Console.WriteLine($"[parked] starting {parkedRuns} runs that ask for approval ({concurrency} at a time)...");
        parked = await Scenarios.ParkedRunsAsync(server, parkedRuns, concurrency, memory, s => Console.WriteLine($"[parked] {s}"));
        parked = parked with { Runs = parkedRuns, Parked = parked.Parked - 1 }; // the warm-up run is parked too
    }

    if (scenario is "all" or "overhead" or "first-token")
    {
        await using BenchServer server = await BenchServer.StartAsync(model.BaseUri, serverArgs);
        if (scenario is "all" or "overhead")
        {
            Console.WriteLine($"[overhead] {warmup} warm-up + {turns} three-step turns...");
            overhead = await Scenarios.TurnOverheadAsync(server, model, turns, warmup);
        }

        if (scenario is "all" or "first-token")
        {
            Console.WriteLine($"[first-token] {warmup} warm-up + {streamRuns} streamed runs...");
            firstToken = await Scenarios.FirstTokenAsync(server, model, streamRuns, warmup);
        }
    }
}

string? loadEnd = Machine.LoadAverage();
static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
static string Mb(double? v) => v is { } x ? x.ToString("F1", CultureInfo.InvariantCulture) : "-";

Console.WriteLine();
Console.WriteLine($"{"scenario",-46} {"p50",9} {"p90",9} {"p99",9}  target");
void Row(string name, Distribution d, string target) =>
    Console.WriteLine($"{name,-46} {F(d.P50),9} {F(d.P90),9} {F(d.P99),9}  {target}");
if (overhead is not null)
{
    Row("turn overhead (end-to-end - model), ms", overhead.OverheadMs, "p50 <= 10 ms");
    Row("  end-to-end, ms", overhead.EndToEndMs, "");
    Row("  model time (3 calls, server side), ms", overhead.ModelMs, "");
    Row("  POST -> 1st model call arrives, ms", overhead.StartToFirstModelCallMs, "");
    Row("  model call 1 done -> call 2 arrives, ms", overhead.ToolStep1Ms, "");
    Row("  model call 2 done -> call 3 arrives, ms", overhead.ToolStep2Ms, "");
    Row("  model call 3 done -> response read, ms", overhead.LastModelCallToResponseMs, "");
    Row("  no-op model call, HTTP round trip, ms", overhead.NoopModelRoundTripMs, "");
    Row("  no-op model call, server side, ms", overhead.NoopModelHandlerMs, "");
    Row("  agent definition load (x4 per turn), ms", overhead.AgentDefinitionLoadMs, "");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  process CPU per turn: {overhead.CpuMsPerTurn:F1} ms (server + model server + client)"));
}

if (firstToken is not null)
{
    Row("first token flushed -> first text.delta SSE, ms", firstToken.FirstTokenToFirstSseMs, "p50 <= 5 ms");
    Row("  POST -> model flushes first token, ms", firstToken.PostToFirstTokenMs, "");
    if (firstToken.Missed > 0)
    {
        Console.WriteLine($"  {firstToken.Missed} runs showed no text.delta before the model was released");
    }
}

Console.WriteLine();
Console.WriteLine($"{"memory",-46} {"RSS MB",9} {"peak MB",9} {"WS MB",9} {"heap MB",9} {"commit MB",10}");
foreach (MemorySnapshot m in parked?.Memory ?? memory)
{
    Console.WriteLine($"{m.Label,-46} {Mb(m.VmRssMb),9} {Mb(m.VmHwmMb),9} {Mb(m.WorkingSetMb),9} {Mb(m.GcHeapSizeMb),9} {Mb(m.GcCommittedMb),10}");
}

if (parked is not null)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{parked.Parked} of {parked.Runs} runs WaitingForApproval, parked in {parked.StartAllMs / 1000:F1} s ({parked.ParkedPerSecond:F0} runs/s); SQLite files {parked.DatabaseFilesMb:F1} MB ({string.Join(", ", parked.DatabaseFileMb.Select(f => $"{f.Key} {f.Value:F1}"))}). Target: RSS <= 200 MB with 1,000 parked runs."));
}

Console.WriteLine($"Load average at start: {loadStart}; at end: {loadEnd}");
outPath ??= Path.Combine(FindRepositoryRoot(), "artifacts", "bench", $"agents-{startedAt:yyyyMMdd'T'HHmmss'Z'}.json");
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
var report = new
{
    TimestampUtc = startedAt,
    Machine = new
    {
        Environment.ProcessorCount,
        Os = RuntimeInformation.OSDescription,
        Runtime = RuntimeInformation.FrameworkDescription,
        ServerGc = GCSettings.IsServerGC,
        LoadAverageStart = loadStart,
        LoadAverageEnd = loadEnd,
        ProcessCpuMs = Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds,
    },
    Options = new { Scenario = scenario, Turns = turns, Warmup = warmup, StreamRuns = streamRuns, Runs = parkedRuns, Concurrency = concurrency, Store = "sqlite", ServerArgs = serverArgs },
    Targets = new { TurnOverheadP50Ms = 10, FirstTokenToSseP50Ms = 5, ParkedRunsRssMb = 200 },
    Overhead = overhead,
    FirstToken = firstToken,
    Parked = parked,
    Memory = memory,
};
await File.WriteAllTextAsync(outPath, JsonSerializer.Serialize(report, new JsonSerializerOptions(JsonSerializerDefaults.Web)
{
    WriteIndented = true,
    NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
}));
Console.WriteLine($"Wrote {outPath}");
return 0;

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Kestrel.Cloud.sln")))
        {
            return dir.FullName;
        }
    }

    return Environment.CurrentDirectory;
}
