using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Durable.AzureStorage.WorkerHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Usage: Kestrel.Cloud.Durable.AzureStorage.WorkerHost <connection string> <task hub>
// Runs the engine's dispatcher on the task hub until standard input closes (or the process is killed), then prints
// "activities=<n>" (how many activities it ran) and exits 0. Exit code 2: usage error.
if (args.Length != 2)
{
    Console.Error.WriteLine("Usage: Kestrel.Cloud.Durable.AzureStorage.WorkerHost <connection string> <task hub>");
    return 2;
}

HostApplicationBuilder builder = Host.CreateApplicationBuilder([]);
builder.Logging.ClearProviders();
builder.Services.AddDurableTask(FanOutWorkload.Register);
builder.Services.Configure<DurableTaskOptions>(o =>
{
    // Short locks so a successor takes over within seconds of a crash.
    o.OrchestrationLockDuration = TimeSpan.FromSeconds(5);
    o.ActivityLockDuration = TimeSpan.FromSeconds(5);
    o.MaxPollInterval = TimeSpan.FromMilliseconds(200);
    o.MaxConcurrentOrchestrationWorkItems = 4;
    o.MaxConcurrentActivityWorkItems = 4;
});
builder.Services.AddDurableTaskAzureStorageStore(o =>
{
    o.ConnectionString = args[0];
    o.TaskHubName = args[1];
});
builder.Services.AddDurableTaskDispatcher();
using IHost host = builder.Build();
await host.Services.GetRequiredService<AzureStorageOrchestrationStore>().InitializeAsync();
await host.StartAsync();
Console.WriteLine($"started pid={Environment.ProcessId}");

// The test closes standard input to stop this worker.
await Task.Run(() =>
{
    while (Console.In.ReadLine() is not null)
    {
    }
});

await host.StopAsync();
Console.WriteLine($"activities={FanOutWorkload.ActivityExecutions}");
return 0;
