using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.CrashHost;
using Kestrel.Cloud.Durable.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Usage: Kestrel.Cloud.Durable.CrashHost <dbfile> start|resume
// Exit codes: 0 every instance finished, 1 not finished within the deadline, 2 usage error.
if (args.Length != 2 || args[1] is not ("start" or "resume"))
{
    Console.Error.WriteLine("Usage: Kestrel.Cloud.Durable.CrashHost <dbfile> start|resume");
    return 2;
}

string databasePath = args[0];
bool start = args[1] == "start";
var deadline = TimeSpan.FromSeconds(120);

HostApplicationBuilder builder = Host.CreateApplicationBuilder([]);
builder.Logging.ClearProviders();
builder.Services.AddDurableTask(CrashWorkload.Register);
builder.Services.Configure<DurableTaskOptions>(o =>
{
    // Short locks so a successor takes over within seconds of a crash.
    o.OrchestrationLockDuration = TimeSpan.FromSeconds(2);
    o.ActivityLockDuration = TimeSpan.FromSeconds(2);
    o.MaxPollInterval = TimeSpan.FromMilliseconds(200);
    o.MaxConcurrentOrchestrationWorkItems = 4;
    o.MaxConcurrentActivityWorkItems = 4;
});
builder.Services.AddDurableTaskSqliteStore(o => o.DatabasePath = databasePath);
builder.Services.AddDurableTaskDispatcher();
using IHost host = builder.Build();
await host.StartAsync();
Console.WriteLine($"started pid={Environment.ProcessId} mode={args[1]}");

var client = host.Services.GetRequiredService<DurableTaskClient>();
if (start)
{
    for (int i = 0; i < CrashWorkload.InstanceCount; i++)
    {
        await client.ScheduleNewOrchestrationInstanceAsync(
            CrashWorkload.OrchestrationName, i, new StartOrchestrationOptions(CrashWorkload.InstanceId(i)));
    }

    Console.WriteLine($"scheduled {CrashWorkload.InstanceCount}");
}

using var timeout = new CancellationTokenSource(deadline);
int exitCode = 0;
try
{
    for (int i = 0; i < CrashWorkload.InstanceCount; i++)
    {
        OrchestrationMetadata done = await client.WaitForInstanceCompletionAsync(CrashWorkload.InstanceId(i), cancellationToken: timeout.Token);
        Console.WriteLine($"{done.InstanceId} {done.RuntimeStatus}");
    }

    Console.WriteLine("all finished");
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine($"not every instance finished within {deadline}");
    exitCode = 1;
}

await host.StopAsync();
return exitCode;
