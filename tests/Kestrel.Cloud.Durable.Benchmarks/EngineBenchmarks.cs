using System.Collections.Concurrent;
using System.Diagnostics;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Durable.Sqlite;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Microsoft.Extensions.DependencyInjection;
using Kestrel.Cloud.Testing.Azurite;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.Benchmarks;

/// <summary>One measured scenario.</summary>
/// <remarks>
/// <see cref="CpuMs"/> is the CPU time this process used during the scenario (all threads); on a shared machine it
/// shows the cost of the work independently of how much CPU other processes took.
/// </remarks>
/// <see cref="StorageRequests"/> and <see cref="MeanRequestMs"/> (Azure scenarios only) are the HTTP requests to the storage
/// service during the scenario and their mean round trip.
public sealed record BenchmarkResult(string Store, string Scenario, int Activities, double TotalMs, double ActivitiesPerSecond, double? P50Ms, double? P99Ms, double CpuMs)
{
    public long? StorageRequests { get; init; }

    public double? MeanRequestMs { get; init; }
}

/// <summary>
/// The scenarios, each on a fresh store with the real dispatcher (<see cref="DurableTaskWorkerService"/>,
/// in-process signals, default <see cref="DurableTaskOptions"/>). Activities are no-ops.
/// </summary>
public static class EngineBenchmarks
{
    private const int ChainLength = 100;
    private const int ManyInstances = 1_000;
    private const int ActivitiesPerInstance = 5;
    private const int FanOutWidth = 1_000;

    /// <summary>
    /// On Azurite ("azure" with one worker, "azure-2w" with two workers on one task hub): the sequential chain and
    /// 1,000 orchestrations x 5 activities, after a short warm-up. Azurite is started from the repository's lockfile.
    /// </summary>
    public static async Task<IReadOnlyList<BenchmarkResult>> RunAzureAsync(AzuriteFixture azurite, int workers, int instances, int fetchConcurrency, Action<BenchmarkResult> report)
    {
        string name = (workers == 1 ? "azure" : $"azure-{workers}w") + (fetchConcurrency == 1 ? string.Empty : $"-f{fetchConcurrency}");
        await using (var warm = await Engine.StartAsync("azure", azurite, workers, fetchConcurrency))
        {
            await warm.ChainAsync(10);
            await warm.ManyAsync(20, ActivitiesPerInstance);
        }

        var results = new List<BenchmarkResult>();
        using var meter = new HttpRequestMeter();
        await using (var engine = await Engine.StartAsync("azure", azurite, workers, fetchConcurrency))
        {
            Console.WriteLine($"[{name}] chain of {ChainLength}...");
            TimeSpan cpu = CpuTime();
            var requests = meter.Snapshot();
            var (chainMs, gaps) = await engine.ChainAsync(ChainLength);
            double cpuMs = (CpuTime() - cpu).TotalMilliseconds;
            gaps.Sort();
            results.Add(WithRequests(new BenchmarkResult(name, $"chain-{ChainLength}", ChainLength, chainMs, ChainLength / (chainMs / 1000), Percentile(gaps, 0.50), Percentile(gaps, 0.99), cpuMs), requests, meter.Snapshot()));
            report(results[^1]);

            Console.WriteLine($"[{name}] {instances} orchestrations x {ActivitiesPerInstance} activities...");
            cpu = CpuTime();
            requests = meter.Snapshot();
            double ms = await engine.ManyAsync(instances, ActivitiesPerInstance);
            cpuMs = (CpuTime() - cpu).TotalMilliseconds;
            int activities = instances * ActivitiesPerInstance;
            results.Add(WithRequests(new BenchmarkResult(name, $"{instances}x{ActivitiesPerInstance}", activities, ms, activities / (ms / 1000), null, null, cpuMs), requests, meter.Snapshot()));
            report(results[^1]);
        }

        return results;
    }

    /// <summary>Runs a warm-up, then every scenario, on the named store ("memory" or "sqlite").</summary>
    public static async Task<IReadOnlyList<BenchmarkResult>> RunAsync(string storeKind)
    {
        // Warm-up: JIT, connection caches and SQLite pages, on its own store.
        await using (var warm = await Engine.StartAsync(storeKind))
        {
            await warm.ChainAsync(20);
            await warm.ManyAsync(50, ActivitiesPerInstance);
            await warm.FanOutAsync(200);
        }

        var results = new List<BenchmarkResult>();
        await using (var engine = await Engine.StartAsync(storeKind))
        {
            Console.WriteLine($"[{storeKind}] chain of {ChainLength}...");
            TimeSpan cpu = CpuTime();
            var (chainMs, gaps) = await engine.ChainAsync(ChainLength);
            double cpuMs = (CpuTime() - cpu).TotalMilliseconds;
            gaps.Sort();
            results.Add(new BenchmarkResult(storeKind, $"chain-{ChainLength}", ChainLength, chainMs, ChainLength / (chainMs / 1000), Percentile(gaps, 0.50), Percentile(gaps, 0.99), cpuMs));
        }

        await using (var engine = await Engine.StartAsync(storeKind))
        {
            Console.WriteLine($"[{storeKind}] {ManyInstances} orchestrations x {ActivitiesPerInstance} activities...");
            TimeSpan cpu = CpuTime();
            double ms = await engine.ManyAsync(ManyInstances, ActivitiesPerInstance);
            double cpuMs = (CpuTime() - cpu).TotalMilliseconds;
            int activities = ManyInstances * ActivitiesPerInstance;
            results.Add(new BenchmarkResult(storeKind, $"{ManyInstances}x{ActivitiesPerInstance}", activities, ms, activities / (ms / 1000), null, null, cpuMs));
        }

        await using (var engine = await Engine.StartAsync(storeKind))
        {
            Console.WriteLine($"[{storeKind}] fan-out to {FanOutWidth}...");
            TimeSpan cpu = CpuTime();
            double ms = await engine.FanOutAsync(FanOutWidth);
            double cpuMs = (CpuTime() - cpu).TotalMilliseconds;
            results.Add(new BenchmarkResult(storeKind, $"fan-out-{FanOutWidth}", FanOutWidth, ms, FanOutWidth / (ms / 1000), null, null, cpuMs));
        }

        return results;
    }

    private static BenchmarkResult WithRequests(BenchmarkResult result, (long Requests, TimeSpan Total) before, (long Requests, TimeSpan Total) after)
    {
        long requests = after.Requests - before.Requests;
        return result with
        {
            StorageRequests = requests,
            MeanRequestMs = requests == 0 ? null : (after.Total - before.Total).TotalMilliseconds / requests,
        };
    }

    private static TimeSpan CpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static double? Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>A store, a worker, the dispatcher and a client; disposing stops the dispatcher and deletes the files.</summary>
    private sealed class Engine : IAsyncDisposable
    {
        private readonly IReadOnlyList<IOrchestrationStore> stores;
        private readonly IReadOnlyList<DurableTaskWorkerService> dispatchers;
        private readonly DurableTaskClient client;
        private readonly string? folder;
        private readonly ConcurrentQueue<long> chainStarts;

        /// <summary>Azure only: reads an instance's raw document and the control queue's depth, printed when a wait stalls.</summary>
        private Func<string, Task<string>>? describe;

        private Engine(IReadOnlyList<IOrchestrationStore> stores, IReadOnlyList<DurableTaskWorkerService> dispatchers, DurableTaskClient client, string? folder, ConcurrentQueue<long> chainStarts)
        {
            this.stores = stores;
            this.dispatchers = dispatchers;
            this.client = client;
            this.folder = folder;
            this.chainStarts = chainStarts;
        }

        /// <summary>Starts <paramref name="workers"/> dispatchers, each on its own store object over the same data (Azure only for more than one).</summary>
        public static async Task<Engine> StartAsync(string storeKind, AzuriteFixture? azurite = null, int workers = 1, int fetchConcurrency = 1)
        {
            string? folder = null;
            string hub = "bench" + Guid.NewGuid().ToString("N")[..12];
            var stores = new List<IOrchestrationStore>();
            if (storeKind == "sqlite")
            {
                folder = Path.Combine(Path.GetTempPath(), $"kestrel-bench-{Guid.NewGuid():N}");
                stores.Add(new SqliteOrchestrationStore(new SqliteStoreOptions { DatabasePath = Path.Combine(folder, "bench.db") }));
            }
            else if (storeKind == "azure")
            {
                for (int i = 0; i < workers; i++)
                {
                    stores.Add(new AzureStorageOrchestrationStore(new AzureStorageStoreOptions { ConnectionString = azurite!.ConnectionString, TaskHubName = hub }));
                }
            }
            else
            {
                stores.Add(new InMemoryOrchestrationStore());
            }

            foreach (IOrchestrationStore s in stores)
            {
                await s.InitializeAsync();
            }

            IOrchestrationStore store = stores[0];
            var chainStarts = new ConcurrentQueue<long>();
            var registry = new DurableTaskRegistry()
                .AddActivityFunc<int, int>("Noop", (_, x) => x)
                .AddActivityFunc<int, int>("ChainStep", (_, x) =>
                {
                    chainStarts.Enqueue(Stopwatch.GetTimestamp());
                    return x + 1;
                })
                .AddOrchestratorFunc<int, int>("Chain", async (ctx, n) =>
                {
                    int x = 0;
                    for (int i = 0; i < n; i++)
                    {
                        x = await ctx.CallActivityAsync<int>("ChainStep", x);
                    }

                    return x;
                })
                .AddOrchestratorFunc<int, int>("Sequence", async (ctx, n) =>
                {
                    int sum = 0;
                    for (int i = 0; i < n; i++)
                    {
                        sum += await ctx.CallActivityAsync<int>("Noop", i);
                    }

                    return sum;
                })
                .AddOrchestratorFunc<int, int>("FanOut", async (ctx, n) =>
                {
                    int[] all = await Task.WhenAll(Enumerable.Range(0, n).Select(i => ctx.CallActivityAsync<int>("Noop", i)));
                    return all.Length;
                });
            var options = Options.Create(new DurableTaskOptions { FetchConcurrency = fetchConcurrency });
            var dispatchers = new List<DurableTaskWorkerService>();
            foreach (IOrchestrationStore s in stores)
            {
                var worker = new DurableTaskWorker(s, registry, new ServiceCollection().BuildServiceProvider(), options);
                var dispatcher = new DurableTaskWorkerService(worker);
                await dispatcher.StartAsync(CancellationToken.None);
                dispatchers.Add(dispatcher);
            }

            var engine = new Engine(stores, dispatchers, new DurableTaskClient(store, options, TimeProvider.System, registry), folder, chainStarts);
            if (storeKind == "azure")
            {
                var blobs = new Azure.Storage.Blobs.BlobServiceClient(azurite!.ConnectionString).GetBlobContainerClient($"{hub}-instances");
                var control = new Azure.Storage.Queues.QueueClient(azurite.ConnectionString, $"{hub}-control");
                engine.describe = async id =>
                {
                    var props = await control.GetPropertiesAsync();
                    string document;
                    try
                    {
                        document = (await blobs.GetBlobClient(id).DownloadContentAsync()).Value.Content.ToString();
                    }
                    catch (Azure.RequestFailedException ex)
                    {
                        document = $"not readable under the blob name '{id}' ({ex.Status}; ids with characters outside [A-Za-z0-9_-] are escaped)";
                    }

                    return $"control queue ~{props.Value.ApproximateMessagesCount} messages; document: {document}";
                };
            }

            return engine;
        }

        /// <summary>One orchestration calling n activities in sequence: total ms and the gaps between consecutive activity starts.</summary>
        public async Task<(double TotalMs, List<double> GapsMs)> ChainAsync(int n)
        {
            this.chainStarts.Clear();
            long start = Stopwatch.GetTimestamp();
            string id = await this.client.ScheduleNewOrchestrationInstanceAsync("Chain", n);
            await this.WaitAsync(id, n);
            double total = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            long[] starts = this.chainStarts.ToArray();
            var gaps = new List<double>(starts.Length);
            for (int i = 1; i < starts.Length; i++)
            {
                gaps.Add(Stopwatch.GetElapsedTime(starts[i - 1], starts[i]).TotalMilliseconds);
            }

            return (total, gaps);
        }

        /// <summary>Many orchestrations, each calling activities in sequence: total ms.</summary>
        public async Task<double> ManyAsync(int instances, int activitiesEach)
        {
            long start = Stopwatch.GetTimestamp();
            var ids = new List<string>(instances);
            for (int i = 0; i < instances; i++)
            {
                ids.Add(await this.client.ScheduleNewOrchestrationInstanceAsync("Sequence", activitiesEach));
            }

            int expected = activitiesEach * (activitiesEach - 1) / 2;
            foreach (string id in ids)
            {
                await this.WaitAsync(id, expected);
            }

            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        /// <summary>One orchestration fanning out to n activities: total ms.</summary>
        public async Task<double> FanOutAsync(int n)
        {
            long start = Stopwatch.GetTimestamp();
            string id = await this.client.ScheduleNewOrchestrationInstanceAsync("FanOut", n);
            await this.WaitAsync(id, n);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (DurableTaskWorkerService dispatcher in this.dispatchers)
            {
                await dispatcher.StopAsync(CancellationToken.None);
                dispatcher.Dispose();
            }

            foreach (IOrchestrationStore store in this.stores)
            {
                (store as IDisposable)?.Dispose();
            }

            if (this.folder is not null)
            {
                Directory.Delete(this.folder, recursive: true);
            }
        }

        private async Task WaitAsync(string id, int expectedOutput)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            Task<OrchestrationMetadata> wait = this.client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
            if (this.describe is not null && await Task.WhenAny(wait, Task.Delay(TimeSpan.FromSeconds(40))) != wait)
            {
                // A stall: show where the instance stands (only ids that need no escaping, as the benchmark's are).
                Console.WriteLine($"[stall] {DateTime.UtcNow:HH:mm:ss} instance {id} not done after 40 s: {await this.describe(id)}");
            }

            OrchestrationMetadata done = await wait;
            if (done.RuntimeStatus != OrchestrationRuntimeStatus.Completed || done.ReadOutputAs<int>() != expectedOutput)
            {
                throw new InvalidOperationException($"Instance {id} ended {done.RuntimeStatus} with output {done.SerializedOutput}; expected Completed with {expectedOutput}. {done.FailureDetails}");
            }
        }
    }
}
