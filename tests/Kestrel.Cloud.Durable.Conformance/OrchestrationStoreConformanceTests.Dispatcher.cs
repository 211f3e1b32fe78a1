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
}
