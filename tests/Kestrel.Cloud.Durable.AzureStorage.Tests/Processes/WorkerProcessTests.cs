using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kestrel.Cloud.Durable.AzureStorage.WorkerHost;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Testing.Azurite;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace Kestrel.Cloud.Durable.AzureStorage.Tests.Processes;

/// <summary>
/// Engine workers in separate processes (Kestrel.Cloud.Durable.AzureStorage.WorkerHost, started with
/// <c>dotnet &lt;dll&gt;</c>) on one Azurite task hub: two workers sharing the work, and a worker killed with SIGKILL
/// whose successor finishes everything. Real processes and real time, so waits are bounded polls.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class WorkerProcessTests
{
    /// <summary>Overrides how many orchestrations the two-worker test runs (the figure is 500).</summary>
    public const string InstanceCountVariable = "KESTREL_MULTIWORKER_INSTANCES";

    private const int DefaultInstanceCount = 100;
    private const int CrashInstanceCount = 20;
    private const int ActivitiesPerInstance = 1 + FanOutWorkload.FanOut;
    private static readonly TimeSpan RunDeadline = TimeSpan.FromSeconds(300);
    private static readonly TimeSpan ProgressDeadline = TimeSpan.FromSeconds(60);

    private readonly AzuriteFixture azurite;
    private readonly ITestOutputHelper output;

    public WorkerProcessTests(AzuriteFixture azurite, ITestOutputHelper output)
    {
        this.azurite = azurite;
        this.output = output;
    }

    /// <summary>Proves two worker processes on one task hub complete every orchestration (with fan-out) exactly once
    /// with the output of a fault-free run, and that both took part.</summary>
    [Fact]
    public async Task TwoWorkerProcesses_OneTaskHub_EveryOrchestrationCompletesOnceWithCorrectOutput()
    {
        string? configured = Environment.GetEnvironmentVariable(InstanceCountVariable);
        int count = string.IsNullOrWhiteSpace(configured) ? DefaultInstanceCount : int.Parse(configured, CultureInfo.InvariantCulture);
        AzureStorageStoreOptions options = Harness.Options(this.azurite);
        var (store, client) = await ClientAsync(options);
        var elapsed = Stopwatch.StartNew(); // reported only, never asserted

        using var first = WorkerProcess.Start(options);
        using var second = WorkerProcess.Start(options);
        List<string> ids = Enumerable.Range(0, count).Select(i => $"fan-{i:D4}").ToList();
        for (int i = 0; i < count; i++)
        {
            await client.ScheduleNewOrchestrationInstanceAsync(FanOutWorkload.OrchestrationName, i, new StartOrchestrationOptions(ids[i]));
        }

        await WaitUntilFinishedAsync(store, ids, RunDeadline, () => first.HasExited || second.HasExited, () => first.Output + second.Output);
        TimeSpan runTime = elapsed.Elapsed;
        int ranByFirst = await first.StopAsync();
        int ranBySecond = await second.StopAsync();
        this.output.WriteLine(
            $"{count} orchestrations x {ActivitiesPerInstance} activities on two worker processes: {runTime.TotalSeconds:F1} s " +
            $"({count / runTime.TotalSeconds:F1} orchestrations/s); activities run: {ranByFirst} + {ranBySecond}");

        await VerifyAsync(store, ids);
        ranByFirst.Should().BePositive("both workers must take part");
        ranBySecond.Should().BePositive("both workers must take part");
        (ranByFirst + ranBySecond).Should().BeGreaterThanOrEqualTo(count * ActivitiesPerInstance);
    }

    /// <summary>Proves a worker process killed with SIGKILL mid-run loses nothing: a successor process completes every
    /// instance with the output of a fault-free run and each activity result recorded once.</summary>
    [Fact]
    public async Task WorkerProcess_KilledMidRunThenSuccessorStarted_EveryInstanceCompletesWithCorrectOutput()
    {
        AzureStorageStoreOptions options = Harness.Options(this.azurite);
        var (store, client) = await ClientAsync(options);
        List<string> ids = Enumerable.Range(0, CrashInstanceCount).Select(i => $"crash-{i:D2}").ToList();
        var elapsed = Stopwatch.StartNew(); // reported only, never asserted

        using (var victim = WorkerProcess.Start(options))
        {
            for (int i = 0; i < ids.Count; i++)
            {
                await client.ScheduleNewOrchestrationInstanceAsync(FanOutWorkload.OrchestrationName, i, new StartOrchestrationOptions(ids[i]));
            }

            // Kill once some, but not all, instances have finished.
            using var deadline = new CancellationTokenSource(ProgressDeadline);
            while (await CountFinishedAsync(store, ids) < 2)
            {
                victim.HasExited.Should().BeFalse($"the worker must still run when it is killed; its output:\n{victim.Output}");
                await Task.Delay(TimeSpan.FromMilliseconds(50), deadline.Token);
            }

            victim.Kill();
        }

        int finishedAtKill = await CountFinishedAsync(store, ids);
        this.output.WriteLine($"killed after {elapsed.ElapsedMilliseconds} ms with {finishedAtKill}/{ids.Count} instances finished");
        finishedAtKill.Should().BeLessThan(ids.Count, "the kill must interrupt the workload");

        using (var successor = WorkerProcess.Start(options))
        {
            await WaitUntilFinishedAsync(store, ids, RunDeadline, () => successor.HasExited, () => successor.Output);
            await successor.StopAsync();
        }

        this.output.WriteLine($"crash and recovery took {elapsed.ElapsedMilliseconds} ms in total");
        await VerifyAsync(store, ids);
    }

    private static async Task<(AzureStorageOrchestrationStore Store, DurableTaskClient Client)> ClientAsync(AzureStorageStoreOptions options)
    {
        var store = new AzureStorageOrchestrationStore(options);
        await store.InitializeAsync();
        var registry = new DurableTaskRegistry();
        FanOutWorkload.Register(registry);
        return (store, new DurableTaskClient(store, Options.Create(new DurableTaskOptions()), null, registry));
    }

    /// <summary>What a fault-free run returns for instance <paramref name="i"/>, computed here independently of the workers.</summary>
    private static string ExpectedOutput(int i)
    {
        byte[] data = Encoding.UTF8.GetBytes(i.ToString(CultureInfo.InvariantCulture));
        for (int round = 0; round < 1_000; round++)
        {
            data = System.Security.Cryptography.SHA256.HashData(data);
        }

        long sum = Enumerable.Range(0, 5).Sum(j => (long)((i * 10) + j) * ((i * 10) + j));
        return $"{Convert.ToHexString(data, 0, 4)}|{sum}";
    }

    private static async Task VerifyAsync(AzureStorageOrchestrationStore store, List<string> ids)
    {
        for (int i = 0; i < ids.Count; i++)
        {
            string id = ids[i];
            InstanceRecord record = (await store.GetInstanceAsync(id))!;
            record.Status.Should().Be(OrchestrationRuntimeStatus.Completed, id);
            record.Output.Should().Be($"\"{ExpectedOutput(i)}\"", id);
            IReadOnlyList<HistoryEvent> history = await store.GetHistoryAsync(id);
            history.OfType<ExecutionStartedEvent>().Should().ContainSingle(id);
            history.OfType<ExecutionCompletedEvent>().Should().ContainSingle("{0} completes exactly once", id);
            history.OfType<TaskScheduledEvent>().Should().HaveCount(ActivitiesPerInstance, id);
            history.OfType<TaskCompletedEvent>().Select(e => e.TaskScheduledId).Should().OnlyHaveUniqueItems(id)
                .And.HaveCount(ActivitiesPerInstance);
        }
    }

    private static async Task<int> CountFinishedAsync(AzureStorageOrchestrationStore store, List<string> ids)
    {
        InstanceRecord?[] records = await Task.WhenAll(ids.Select(id => store.GetInstanceAsync(id)));
        return records.Count(r => r?.Status.IsTerminal() == true);
    }

    private static async Task WaitUntilFinishedAsync(
        AzureStorageOrchestrationStore store, List<string> ids, TimeSpan limit, Func<bool> workerExited, Func<string> workerOutput)
    {
        var pending = new HashSet<string>(ids, StringComparer.Ordinal);
        var elapsed = Stopwatch.StartNew();
        while (pending.Count > 0)
        {
            foreach (string[] batch in pending.Chunk(32).ToList())
            {
                InstanceRecord?[] records = await Task.WhenAll(batch.Select(id => store.GetInstanceAsync(id)));
                foreach (InstanceRecord record in records.OfType<InstanceRecord>().Where(r => r.Status.IsTerminal()))
                {
                    pending.Remove(record.InstanceId);
                }
            }

            if (pending.Count == 0)
            {
                return;
            }

            workerExited().Should().BeFalse($"no worker may exit early; output:\n{workerOutput()}");
            elapsed.Elapsed.Should().BeLessThan(limit, $"{pending.Count} instances had not finished (for example {pending.First()}); worker output:\n{workerOutput()}");
            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }
    }

    /// <summary>A worker host child process (`dotnet Kestrel.Cloud.Durable.AzureStorage.WorkerHost.dll conn hub`), output captured.</summary>
    private sealed class WorkerProcess : IDisposable
    {
        private readonly Process process;
        private readonly StringBuilder log = new();

        private WorkerProcess(Process process) => this.process = process;

        public bool HasExited => this.process.HasExited;

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

        public static WorkerProcess Start(AzureStorageStoreOptions options)
        {
            string hostDll = Path.Combine(AppContext.BaseDirectory, "Kestrel.Cloud.Durable.AzureStorage.WorkerHost.dll");
            File.Exists(hostDll).Should().BeTrue($"the worker host is built with the tests and copied to {AppContext.BaseDirectory}");
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(hostDll);
            info.ArgumentList.Add(options.ConnectionString!);
            info.ArgumentList.Add(options.TaskHubName);
            var result = new WorkerProcess(new Process { StartInfo = info });
            result.process.OutputDataReceived += (_, e) => result.Append(e.Data);
            result.process.ErrorDataReceived += (_, e) => result.Append(e.Data);
            result.process.Start();
            result.process.BeginOutputReadLine();
            result.process.BeginErrorReadLine();
            return result;
        }

        /// <summary>Closes standard input (the worker's stop signal), waits for a clean exit and returns how many activities it ran.</summary>
        public async Task<int> StopAsync()
        {
            this.process.StandardInput.Close();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await this.process.WaitForExitAsync(cts.Token);
            this.process.ExitCode.Should().Be(0, this.Output);
            string line = this.Output.Split('\n').Select(l => l.Trim()).Last(l => l.StartsWith("activities=", StringComparison.Ordinal));
            return int.Parse(line["activities=".Length..], CultureInfo.InvariantCulture);
        }

        public void Kill()
        {
            this.process.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
            this.process.WaitForExit();
        }

        public void Dispose()
        {
            if (!this.process.HasExited)
            {
                this.process.Kill(entireProcessTree: true);
                this.process.WaitForExit();
            }

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
