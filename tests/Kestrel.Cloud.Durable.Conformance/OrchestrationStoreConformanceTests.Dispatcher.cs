using Kestrel.Cloud.Durable.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>The real hosted dispatcher on the system clock.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>
    /// Proves the hosted dispatcher (DurableTaskWorkerService in a Host, system clock) runs an orchestration with activities,
    /// a fan-out, a short durable timer and an external event to completion, found through in-process signals and the
    /// store's wake-up time. The test waits with WaitForInstanceCompletionAsync under a cancellation timeout, never a sleep.
    /// </summary>
    [Fact]
    public async Task HostedDispatcher_SystemClock_RunsOrchestrationToCompletion()
    {
        IOrchestrationStore store = this.CreateStore(TimeProvider.System);
        this.TrackForDisposal(store);
        using IHost host = new HostBuilder()
            .ConfigureServices(services => services
                .AddSingleton(store)
                .AddDurableTask(registry => registry
                    .AddActivityFunc<int, int>("Double", (_, x) => x * 2)
                    .AddOrchestratorFunc<int, string>("Hosted", async (ctx, n) =>
                    {
                        int doubled = await ctx.CallActivityAsync<int>("Double", n);
                        int[] fan = await Task.WhenAll(Enumerable.Range(1, 4).Select(i => ctx.CallActivityAsync<int>("Double", i)));
                        await ctx.CreateTimer(TimeSpan.FromMilliseconds(50));
                        string go = await ctx.WaitForExternalEvent<string>("go");
                        return $"{doubled}:{fan.Sum()}:{go}";
                    }))
                .AddDurableTaskDispatcher())
            .Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await host.StartAsync(timeout.Token);
        try
        {
            DurableTaskClient client = host.Services.GetRequiredService<DurableTaskClient>();
            string id = await client.ScheduleNewOrchestrationInstanceAsync("Hosted", 21, cancellationToken: timeout.Token);
            (await client.WaitForInstanceStartAsync(id, cancellationToken: timeout.Token)).RuntimeStatus
                .Should().NotBe(OrchestrationRuntimeStatus.Pending);
            await client.RaiseEventAsync(id, "go", "went", timeout.Token);

            OrchestrationMetadata done = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);

            done.FailureDetails.Should().BeNull();
            done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
            done.ReadOutputAs<string>().Should().Be("42:20:went");
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Proves several fetch loops per kind of work (FetchConcurrency 4) share one limit of work in flight and lose or
    /// duplicate nothing: 12 orchestrations fanning out to 5 activities each all complete with the right output, every
    /// activity ran once, and never more than MaxConcurrentActivityWorkItems (2) activities ran at the same time.
    /// </summary>
    [Fact]
    public async Task HostedDispatcher_SeveralFetchLoops_ShareTheConcurrencyLimitAndCompleteEverything()
    {
        IOrchestrationStore store = this.CreateStore(TimeProvider.System);
        this.TrackForDisposal(store);
        int running = 0;
        int mostAtOnce = 0;
        var runs = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        using IHost host = new HostBuilder()
            .ConfigureServices(services => services
                .AddSingleton(store)
                .Configure<DurableTaskOptions>(o =>
                {
                    o.FetchConcurrency = 4;
                    o.MaxConcurrentActivityWorkItems = 2;
                    o.MaxConcurrentOrchestrationWorkItems = 3;
                })
                .AddDurableTask(registry => registry
                    .AddActivityFunc<string, int>("Count", async (_, key) =>
                    {
                        int now = Interlocked.Increment(ref running);
                        int seen;
                        while (now > (seen = Volatile.Read(ref mostAtOnce)) && Interlocked.CompareExchange(ref mostAtOnce, now, seen) != seen)
                        {
                        }

                        runs.AddOrUpdate(key, 1, (_, n) => n + 1);
                        await Task.Yield();
                        Interlocked.Decrement(ref running);
                        return key.Length;
                    })
                    .AddOrchestratorFunc<int, int>("FanOutOnce", async (ctx, n) =>
                    {
                        int[] lengths = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => ctx.CallActivityAsync<int>("Count", $"{ctx.InstanceId}/{i}")));
                        return lengths.Sum() + n;
                    }))
                .AddDurableTaskDispatcher())
            .Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        await host.StartAsync(timeout.Token);
        try
        {
            DurableTaskClient client = host.Services.GetRequiredService<DurableTaskClient>();
            var ids = new List<string>();
            for (int i = 0; i < 12; i++)
            {
                ids.Add(await client.ScheduleNewOrchestrationInstanceAsync("FanOutOnce", i, new StartOrchestrationOptions($"fetch-{i:D2}"), timeout.Token));
            }

            foreach ((string id, int i) in ids.Select((id, i) => (id, i)))
            {
                OrchestrationMetadata done = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
                done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed, done.FailureDetails?.ErrorMessage);
                done.ReadOutputAs<int>().Should().Be((5 * $"{id}/0".Length) + i);
            }

            runs.Should().HaveCount(60);
            runs.Values.Should().OnlyContain(n => n == 1);
            mostAtOnce.Should().BeInRange(1, 2);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Proves graceful shutdown loses nothing: an activity still running when the host stops is cancelled after
    /// ShutdownTimeout and released (not completed, not lost) so it can be locked again at once; a second host on the same
    /// store, as a restarted process, runs it again and the instance completes with the right output.
    /// </summary>
    [Fact]
    public async Task HostedDispatcher_StoppedWhileActivityRuns_ReleasesItAndNextHostCompletesIt()
    {
        IOrchestrationStore store = this.CreateStore(TimeProvider.System);
        this.TrackForDisposal(store);
        var firstAttemptStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int attempts = 0;
        bool block = true;
        IHost BuildHost() => new HostBuilder()
            .ConfigureServices(services => services
                .AddSingleton(store)
                .AddDurableTask(registry => registry
                    .AddActivityFunc<int, int>("Slow", async (ctx, x) =>
                    {
                        Interlocked.Increment(ref attempts);
                        if (Volatile.Read(ref block))
                        {
                            firstAttemptStarted.TrySetResult();
                            await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
                        }

                        return x + 1;
                    })
                    .AddOrchestratorFunc<int, int>("UsesSlow", (ctx, x) => ctx.CallActivityAsync<int>("Slow", x)))
                .Configure<DurableTaskOptions>(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(200))
                .AddDurableTaskDispatcher())
            .Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        string id;
        using (IHost first = BuildHost())
        {
            await first.StartAsync(timeout.Token);
            id = await first.Services.GetRequiredService<DurableTaskClient>().ScheduleNewOrchestrationInstanceAsync("UsesSlow", 41, cancellationToken: timeout.Token);
            await firstAttemptStarted.Task.WaitAsync(timeout.Token);
            await first.StopAsync(CancellationToken.None);
        }

        (await store.GetInstanceAsync(id))!.Status.Should().Be(OrchestrationRuntimeStatus.Running, "the activity was released, not completed");
        ActivityWorkItem? released = await store.TryLockNextActivityAsync(TimeSpan.FromSeconds(30));
        released.Should().NotBeNull("shutdown released the activity at once instead of leaving it locked until its lock expires");
        await store.AbandonActivityAsync(released!, TimeSpan.Zero);
        Volatile.Write(ref block, false);

        using IHost second = BuildHost();
        await second.StartAsync(timeout.Token);
        try
        {
            OrchestrationMetadata done = await second.Services.GetRequiredService<DurableTaskClient>()
                .WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);

            done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
            done.ReadOutputAs<int>().Should().Be(42);
            attempts.Should().Be(2, "the released activity ran again on the second host");
        }
        finally
        {
            await second.StopAsync(CancellationToken.None);
        }
    }
}
