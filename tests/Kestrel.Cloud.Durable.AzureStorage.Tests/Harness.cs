using System.Diagnostics;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Testing.Azurite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.AzureStorage.Tests;

/// <summary>A store on its own task hub, with a worker and a client on the same clock.</summary>
internal sealed class Harness
{
    private Harness(AzureStorageOrchestrationStore store, DurableTaskWorker worker, DurableTaskClient client)
    {
        this.Store = store;
        this.Worker = worker;
        this.Client = client;
    }

    public AzureStorageOrchestrationStore Store { get; }

    public DurableTaskWorker Worker { get; }

    public DurableTaskClient Client { get; }

    public static string NewTaskHubName() => "t" + Guid.NewGuid().ToString("N")[..16];

    public static AzureStorageStoreOptions Options(AzuriteFixture azurite, string? taskHub = null)
    {
        azurite.ThrowIfExited();
        return new AzureStorageStoreOptions
        {
            ConnectionString = azurite.ConnectionString,
            TaskHubName = taskHub ?? NewTaskHubName(),
        };
    }

    public static async Task<Harness> CreateAsync(
        AzuriteFixture azurite,
        DurableTaskRegistry registry,
        TimeProvider? clock = null,
        Action<AzureStorageStoreOptions>? configureStore = null,
        Action<DurableTaskOptions>? configureEngine = null)
    {
        AzureStorageStoreOptions storeOptions = Options(azurite);
        configureStore?.Invoke(storeOptions);
        var store = new AzureStorageOrchestrationStore(storeOptions, clock);
        await store.InitializeAsync();
        var engineOptions = new DurableTaskOptions();
        configureEngine?.Invoke(engineOptions);
        IOptions<DurableTaskOptions> options = Microsoft.Extensions.Options.Options.Create(engineOptions);
        var worker = new DurableTaskWorker(store, registry, new ServiceCollection().BuildServiceProvider(), options, clock);
        var client = new DurableTaskClient(store, options, clock, registry);
        return new Harness(store, worker, client);
    }

    /// <summary>Runs work items until none is visible.</summary>
    public async Task RunUntilIdleAsync()
    {
        while (await this.Worker.TryProcessNextOrchestrationAsync() | await this.Worker.TryProcessNextActivityAsync())
        {
        }
    }

    /// <summary>
    /// Runs work items until <paramref name="done"/> holds. When no work is visible it polls: queue visibility
    /// (timers, delayed retries) runs on the emulator's clock, so real time is unavoidable there. The wait is
    /// bounded by <paramref name="timeout"/>; this is a deadline, not a synchronisation by sleeping.
    /// </summary>
    public async Task DriveUntilAsync(Func<Task<bool>> done, TimeSpan? timeout = null)
    {
        var elapsed = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(60);
        while (!await done())
        {
            bool worked = await this.Worker.TryProcessNextOrchestrationAsync() | await this.Worker.TryProcessNextActivityAsync();
            if (!worked)
            {
                if (elapsed.Elapsed > limit)
                {
                    throw new TimeoutException($"The condition did not hold within {limit}.");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    /// <summary>Drives until the instance has finished and returns it.</summary>
    public async Task<OrchestrationMetadata> DriveToCompletionAsync(string instanceId, TimeSpan? timeout = null)
    {
        await this.DriveUntilAsync(async () => (await this.Client.GetInstanceAsync(instanceId))?.RuntimeStatus.IsTerminal() == true, timeout);
        return (await this.Client.GetInstanceAsync(instanceId, getInputsAndOutputs: true))!;
    }

    /// <summary>How many messages a queue holds (visible or not), per the service's estimate.</summary>
    public static async Task<int> ApproximateCountAsync(Azure.Storage.Queues.QueueClient queue) =>
        (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount;
}
