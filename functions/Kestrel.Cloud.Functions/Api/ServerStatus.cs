using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Functions.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>The state of the server's components: what <c>/api/health</c> and <c>/api/ready</c> report.</summary>
public sealed class ServerStatus
{
    /// <summary>How long the health check waits for the store.</summary>
    public static readonly TimeSpan StoreProbeTimeout = TimeSpan.FromSeconds(5);

    private const string ProbeInstanceId = "kestrel-cloud-health-probe";
    private readonly IServiceProvider services;
    private readonly IOrchestrationStore store;
    private readonly IHostApplicationLifetime lifetime;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private volatile bool storeInitialized;

    /// <summary>Creates the status tracker.</summary>
    public ServerStatus(IServiceProvider services, IOrchestrationStore store, IHostApplicationLifetime lifetime, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        this.services = services;
        this.store = store;
        this.lifetime = lifetime;
        this.timeProvider = timeProvider;
        this.logger = loggerFactory.CreateLogger(Log.Category);
    }

    /// <summary>True once the store's InitializeAsync has completed.</summary>
    public bool StoreInitialized => this.storeInitialized;

    /// <summary>The store's short name.</summary>
    public string StoreName => this.store.Name;

    /// <summary>True while the in-process dispatcher's loops run.</summary>
    public bool DispatcherRunning =>
        this.services.GetServices<IHostedService>().OfType<DurableTaskWorkerService>().Any(d => d.ExecuteTask is { IsCompleted: false });

    /// <summary>
    /// True when the Azure Functions host's queue triggers drive the work (no in-process dispatcher by design), so a
    /// dispatcher that is not running is not a fault.
    /// </summary>
    public bool DispatchedByFunctionsHost => this.services.GetService<WorkDispatch>() is { InProcess: false };

    /// <summary>True when work is being dispatched: the in-process dispatcher runs, or the Functions host drives it.</summary>
    public bool DispatchHealthy => this.DispatchedByFunctionsHost || this.DispatcherRunning;

    /// <summary>True once the host is shutting down.</summary>
    public bool Stopping => this.lifetime.ApplicationStopping.IsCancellationRequested;

    /// <summary>Records that the store is initialized (called right after the engine's store initializer has run).</summary>
    public void MarkStoreInitialized() => this.storeInitialized = true;

    /// <summary>Reads from the store to prove it answers; false (and a warning log) when it throws or times out.</summary>
    public async Task<bool> ProbeStoreAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(StoreProbeTimeout, this.timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await this.store.GetInstanceAsync(ProbeInstanceId, linked.Token);
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.StoreUnreachable(this.logger, this.store.Name, ex);
            return false;
        }
    }

    /// <summary>What readiness still waits for; empty when ready.</summary>
    public IReadOnlyList<string> ReadinessBlockers()
    {
        var blockers = new List<string>();
        if (!this.StoreInitialized)
        {
            blockers.Add("the store is not initialized yet");
        }

        if (!this.DispatchHealthy)
        {
            blockers.Add("the durable dispatcher is not running");
        }

        if (this.Stopping)
        {
            blockers.Add("the server is shutting down");
        }

        return blockers;
    }
}

/// <summary>How work is dispatched: by the in-process dispatcher, or (false) by the Functions host's queue triggers.</summary>
/// <param name="InProcess">True when the app runs its own dispatcher.</param>
public sealed record WorkDispatch(bool InProcess);

/// <summary>Marks the store initialized; registered right after the engine's store initializer, so it starts after it.</summary>
internal sealed class StoreInitializedMarker : IHostedService
{
    private readonly ServerStatus status;

    public StoreInitializedMarker(ServerStatus status) => this.status = status;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        this.status.MarkStoreInitialized();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
