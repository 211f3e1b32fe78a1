using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kestrel.Cloud.Durable.CrashHost;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Testing;
using Xunit.Abstractions;

namespace Kestrel.Cloud.Durable.Sqlite.Tests;

/// <summary>
/// Kills a real worker process with SIGKILL in the middle of the workload, resumes in a second process on the
/// same database file, and checks that every instance finished with exactly the output of a fault-free run.
/// </summary>
public sealed class CrashTests
{
    private static readonly TimeSpan ProgressDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ResumeDeadline = TimeSpan.FromSeconds(120);
    private readonly ITestOutputHelper output;

    public CrashTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public async Task CrashHost_KilledMidRunThenResumed_EveryInstanceCompletesWithCorrectOutput()
    {
        using var folder = new TempDirectory("kestrel-crash");
        string db = Path.Combine(folder.Path, "crash.db");
        int totalActivities = CrashWorkload.InstanceCount * (CrashWorkload.ChainLength + CrashWorkload.FanOut);
        var elapsed = Stopwatch.StartNew(); // reported only, never asserted

        // Phase 1: run until some, but not all, of the work is done, then kill without warning.
        using (var first = HostProcess.Start(db, "start"))
        using (var observer = new SqliteOrchestrationStore(new SqliteStoreOptions { DatabasePath = db }))
        {
            int done = 0;
            using var deadline = new CancellationTokenSource(ProgressDeadline);
            while (done < totalActivities / 4)
            {
                first.HasExited.Should().BeFalse($"the host must still be running when it is killed; its output:\n{first.Output}");
                await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token);
                if (File.Exists(db))
                {
                    done = (await ProgressAsync(observer)).CompletedActivities;
                }
            }

            first.Kill();
            var atKill = await ProgressAsync(observer);
            this.output.WriteLine($"killed after {elapsed.ElapsedMilliseconds} ms with {atKill.CompletedActivities}/{totalActivities} activity results and {atKill.FinishedInstances}/{CrashWorkload.InstanceCount} instances finished");
            atKill.FinishedInstances.Should().BeLessThan(CrashWorkload.InstanceCount, "the kill must interrupt the workload");
        }

        // Phase 2: a fresh process on the same file takes over once the dead process's locks expire.
        using (var second = HostProcess.Start(db, "resume"))
        {
            bool exited = await second.WaitForExitAsync(ResumeDeadline);
            exited.Should().BeTrue($"the resumed host must finish within {ResumeDeadline}; its output:\n{second.Output}");
            second.ExitCode.Should().Be(0, second.Output);
        }

        this.output.WriteLine($"crash and resume took {elapsed.ElapsedMilliseconds} ms in total");
        using var store = new SqliteOrchestrationStore(new SqliteStoreOptions { DatabasePath = db });
        for (int i = 0; i < CrashWorkload.InstanceCount; i++)
        {
            string id = CrashWorkload.InstanceId(i);
            InstanceRecord record = (await store.GetInstanceAsync(id))!;
            record.Status.Should().Be(OrchestrationRuntimeStatus.Completed, id);
            record.Output.Should().Be($"\"{ExpectedOutput(i)}\"", id);
            IReadOnlyList<HistoryEvent> history = await store.GetHistoryAsync(id);
            history.OfType<TaskScheduledEvent>().Should().HaveCount(CrashWorkload.ChainLength + CrashWorkload.FanOut, id);
            history.OfType<TaskCompletedEvent>().Select(e => e.TaskScheduledId).Should().OnlyHaveUniqueItems(id)
                .And.HaveCount(CrashWorkload.ChainLength + CrashWorkload.FanOut);
        }

        (await store.TryLockNextActivityAsync(TimeSpan.FromSeconds(1))).Should().BeNull("no activity is left behind");
    }

    /// <summary>What a fault-free run returns for instance <paramref name="i"/>, computed here independently of the host.</summary>
    private static string ExpectedOutput(int i)
    {
        string value = i.ToString(CultureInfo.InvariantCulture);
        for (int step = 0; step < 6; step++)
        {
            byte[] data = Encoding.UTF8.GetBytes($"{value}:{step}");
            for (int round = 0; round < 2_000; round++)
            {
                data = System.Security.Cryptography.SHA256.HashData(data);
            }

            value = Convert.ToHexString(data, 0, 4);
        }

        long sum = Enumerable.Range(0, 8).Sum(j => (long)((i * 10) + j) * ((i * 10) + j));
        return $"{value}|{sum}";
    }

    private static async Task<(int CompletedActivities, int FinishedInstances)> ProgressAsync(SqliteOrchestrationStore store)
    {
        int completed = 0;
        int finished = 0;
        InstanceQueryResult page = await store.QueryInstancesAsync(new InstanceQuery { InstanceIdPrefix = "crash-" });
        foreach (InstanceRecord r in page.Instances)
        {
            completed += (await store.GetHistoryAsync(r.InstanceId)).Count(e => e is TaskCompletedEvent);
            finished += r.Status.IsTerminal() ? 1 : 0;
        }

        return (completed, finished);
    }

    /// <summary>The crash host as a child process (`dotnet Kestrel.Cloud.Durable.CrashHost.dll db mode`), output captured.</summary>
    private sealed class HostProcess : IDisposable
    {
        private readonly Process process;
        private readonly StringBuilder log = new();

        private HostProcess(Process process) => this.process = process;

        public bool HasExited => this.process.HasExited;

        public int ExitCode => this.process.ExitCode;

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

        public static HostProcess Start(string databasePath, string mode)
        {
            string hostDll = Path.Combine(AppContext.BaseDirectory, "Kestrel.Cloud.Durable.CrashHost.dll");
            File.Exists(hostDll).Should().BeTrue($"the crash host is built with the tests and copied to {AppContext.BaseDirectory}");
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(hostDll);
            info.ArgumentList.Add(databasePath);
            info.ArgumentList.Add(mode);
            var result = new HostProcess(new Process { StartInfo = info });
            result.process.OutputDataReceived += (_, e) => result.Append(e.Data);
            result.process.ErrorDataReceived += (_, e) => result.Append(e.Data);
            result.process.Start();
            result.process.BeginOutputReadLine();
            result.process.BeginErrorReadLine();
            return result;
        }

        public void Kill()
        {
            this.process.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
            this.process.WaitForExit();
        }

        public async Task<bool> WaitForExitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await this.process.WaitForExitAsync(cts.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
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
