using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.Benchmarks;

// Usage: dotnet run -c Release --project tests/Kestrel.Cloud.Durable.Benchmarks -- [--store all|memory|sqlite|azure] [--azure-instances N] [--azure-workers 1|2|both] [--fetch-concurrency N (Azure runs; default 1)] [--out <file.json>]
string storeArg = "all";
string? outPath = null;
int azureInstances = 1000;
int fetchConcurrency = 1;
int[] azureWorkers = [1, 2];
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--store" when i + 1 < args.Length:
            storeArg = args[++i];
            break;
        case "--fetch-concurrency" when i + 1 < args.Length && int.TryParse(args[i + 1], out int f) && f is > 0 and <= 64:
            fetchConcurrency = f;
            i++;
            break;
        case "--azure-workers" when i + 1 < args.Length && args[i + 1] is "1" or "2" or "both":
            azureWorkers = args[++i] switch { "1" => [1], "2" => [2], _ => [1, 2] };
            break;
        case "--azure-instances" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n > 0:
            azureInstances = n;
            i++;
            break;
        case "--out" when i + 1 < args.Length:
            outPath = args[++i];
            break;
        default:
            Console.Error.WriteLine("Usage: Kestrel.Cloud.Durable.Benchmarks [--store all|memory|sqlite|azure] [--azure-instances N] [--azure-workers 1|2|both] [--fetch-concurrency N (Azure runs; default 1)] [--out <file.json>]");
            return 2;
    }
}

string[] stores = storeArg switch
{
    "all" => ["memory", "sqlite", "azure"],
    "memory" or "sqlite" or "azure" => [storeArg],
    _ => [],
};
if (stores.Length == 0)
{
    Console.Error.WriteLine($"Unknown store '{storeArg}'; use all, memory, sqlite or azure (Azurite, one and two workers).");
    return 2;
}

#if DEBUG
Console.WriteLine("WARNING: a Debug build; run with -c Release for meaningful figures.");
#endif

var results = new List<BenchmarkResult>();
foreach (string store in stores)
{
    Console.WriteLine($"[{store}] warming up...");
    if (store == "azure")
    {
        // Each result is printed as it completes: the Azurite scenarios take minutes.
        void Report(BenchmarkResult r) => Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"[{r.Store}] {r.Scenario}: {r.TotalMs:F1} ms, {r.ActivitiesPerSecond:F0} activities/s, p50 {Format(r.P50Ms)} ms, p99 {Format(r.P99Ms)} ms, " +
            $"{r.StorageRequests} storage requests ({(double)r.StorageRequests! / r.Activities:F1} per activity, mean {Format(r.MeanRequestMs)} ms)"));
        foreach (int workers in azureWorkers)
        {
            // A fresh Azurite (from the repository's lockfile, on free loopback ports) for each worker count: Azurite's
            // in-memory store slows down as data accumulates, so a shared one would handicap whichever runs second.
            await using var azurite = new Kestrel.Cloud.Testing.Azurite.AzuriteFixture();
            results.AddRange(await EngineBenchmarks.RunAzureAsync(azurite, workers, azureInstances, fetchConcurrency, Report));
        }
    }
    else
    {
        results.AddRange(await EngineBenchmarks.RunAsync(store));
    }
}

Console.WriteLine();
Console.WriteLine($"{"store",-9} {"scenario",-14} {"total ms",10} {"activities/s",13} {"p50 ms",8} {"p99 ms",8} {"cpu ms",9} {"cpu us/act",11}");
foreach (BenchmarkResult r in results)
{
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"{r.Store,-9} {r.Scenario,-14} {r.TotalMs,10:F1} {r.ActivitiesPerSecond,13:F0} {Format(r.P50Ms),8} {Format(r.P99Ms),8} {r.CpuMs,9:F0} {r.CpuMs * 1000 / r.Activities,11:F0}"));
}

Console.WriteLine("Targets: chain-100 <= 100 ms in memory, <= 500 ms on SQLite; >= 2,000 activities/s on SQLite.");
Console.WriteLine($"Machine: {Environment.ProcessorCount} processors; cpu ms = CPU time of this process during the scenario (all threads).");
outPath ??= Path.Combine(FindRepositoryRoot(), "artifacts", "bench", $"durable-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}.json");
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
var report = new
{
    TimestampUtc = DateTime.UtcNow,
    Machine = new { Environment.ProcessorCount, Os = RuntimeInformation.OSDescription, Runtime = RuntimeInformation.FrameworkDescription },
    Options = new DurableTaskOptions(),
    Results = results,
};
await File.WriteAllTextAsync(outPath, JsonSerializer.Serialize(report, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true, IgnoreReadOnlyProperties = false }));
Console.WriteLine($"Wrote {outPath}");
return 0;

static string Format(double? ms) => ms is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) : "-";

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
