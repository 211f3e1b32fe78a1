using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.Sqlite.Tests;

/// <summary>A database file in a temporary folder, a manual clock, and helpers to open stores and workers on it.</summary>
internal sealed class SqliteStoreFixture : IDisposable
{
    private readonly TempDirectory folder = new("kestrel-sqlite");
    private readonly List<SqliteOrchestrationStore> opened = new();

    public ManualTimeProvider Clock { get; } = new();

    public string DatabasePath => Path.Combine(this.folder.Path, "durable.db");

    public SqliteOrchestrationStore OpenStore()
    {
        var store = new SqliteOrchestrationStore(new SqliteStoreOptions { DatabasePath = this.DatabasePath }, this.Clock);
        this.opened.Add(store);
        return store;
    }

    public DurableTaskWorker Worker(IOrchestrationStore store, DurableTaskRegistry registry) =>
        new(store, registry, new ServiceCollection().BuildServiceProvider(), Options.Create(new DurableTaskOptions()), this.Clock);

    public DurableTaskClient Client(IOrchestrationStore store, DurableTaskRegistry registry) =>
        new(store, Options.Create(new DurableTaskOptions()), this.Clock, registry);

    /// <summary>Runs orchestration steps and activities until neither has work (bounded).</summary>
    public static async Task RunUntilIdle(DurableTaskWorker worker)
    {
        for (int i = 0; i < 100_000; i++)
        {
            if (!(await worker.TryProcessNextOrchestrationAsync() | await worker.TryProcessNextActivityAsync()))
            {
                return;
            }
        }

        throw new InvalidOperationException("The worker did not become idle within 100,000 work items.");
    }

    public void Dispose()
    {
        foreach (SqliteOrchestrationStore store in this.opened)
        {
            store.Dispose();
        }

        this.folder.Dispose();
    }
}
