using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.Tests;

public class SmokeTests
{
    [Fact]
    public async Task Sequence_FanOut_Timer_Event_CompletesWithExpectedOutput()
    {
        var clock = new ManualTimeProvider();
        var store = new InMemoryOrchestrationStore(clock);
        var registry = new DurableTaskRegistry()
            .AddActivityFunc<int, int>("Double", (_, x) => x * 2)
            .AddOrchestratorFunc<int, string>("Main", async (ctx, n) =>
            {
                int a = await ctx.CallActivityAsync<int>("Double", n);
                int[] fan = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => ctx.CallActivityAsync<int>("Double", i)));
                await ctx.CreateTimer(TimeSpan.FromMinutes(5));
                string ev = await ctx.WaitForExternalEvent<string>("go");
                return $"{a}:{fan.Sum()}:{ev}";
            });
        var options = Options.Create(new DurableTaskOptions());
        var worker = new DurableTaskWorker(store, registry, new ServiceCollection().BuildServiceProvider(), options, clock);
        var client = new DurableTaskClient(store, options, clock, registry);

        string id = await client.ScheduleNewOrchestrationInstanceAsync("Main", 21);
        await RunUntilIdle(worker);
        (await client.GetInstanceAsync(id))!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);

        clock.Advance(TimeSpan.FromMinutes(5));
        await client.RaiseEventAsync(id, "go", "yes");
        await RunUntilIdle(worker);

        var meta = await client.GetInstanceAsync(id, getInputsAndOutputs: true);
        meta!.FailureDetails.Should().BeNull();
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        meta.ReadOutputAs<string>().Should().Be("42:20:yes");
    }

    private static async Task RunUntilIdle(DurableTaskWorker worker)
    {
        while (await worker.TryProcessNextOrchestrationAsync() | await worker.TryProcessNextActivityAsync())
        {
        }
    }
}
