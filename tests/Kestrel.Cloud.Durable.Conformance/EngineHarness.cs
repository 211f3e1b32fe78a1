using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Sdk;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>
/// One store with a registry, a worker and a client on a <see cref="ManualTimeProvider"/>, driven by hand:
/// work runs only inside <see cref="RunUntilIdleAsync"/> and <see cref="AdvanceAsync"/>, so every test is
/// deterministic. <see cref="RestartAsync"/> simulates a process restart: the worker, its replay cache and
/// the client are dropped and rebuilt on the store re-opened by the store's factory. The store is wrapped in an
/// <see cref="InvariantCheckingStore"/>; every run ends by failing the test if a step commit broke an invariant.
/// </summary>
public sealed class EngineHarness : IAsyncDisposable
{
    /// <summary>Most work items one <see cref="RunUntilIdleAsync"/> call may run before the test fails.</summary>
    public const int MaxWorkItemsPerRun = 10_000;

    /// <summary>Most timer wake-ups one <see cref="AdvanceAsync"/> call may step through before the test fails.</summary>
    public const int MaxWakeUpsPerAdvance = 10_000;

    private readonly Func<TimeProvider, IOrchestrationStore> openStore;
    private readonly IServiceProvider services = new ServiceCollection().BuildServiceProvider();
    private readonly List<IOrchestrationStore> stores = new();
    private readonly HashSet<string> reportedViolations = new(StringComparer.Ordinal);

    private EngineHarness(IOrchestrationStore store, Func<TimeProvider, IOrchestrationStore> openStore, ManualTimeProvider clock, DurableTaskOptions options)
    {
        this.Store = new InvariantCheckingStore(store);
        this.openStore = openStore;
        this.Clock = clock;
        this.Options = options;
        this.stores.Add(store);
        this.Worker = null!;
        this.Client = null!;
        this.BuildWorkerAndClient();
    }

    /// <summary>The fake clock the store, worker and client share.</summary>
    public ManualTimeProvider Clock { get; }

    /// <summary>The options the worker and client use; set before the harness was created.</summary>
    public DurableTaskOptions Options { get; }

    /// <summary>Orchestrators and activities; register before starting instances. Survives <see cref="RestartAsync"/>.</summary>
    public DurableTaskRegistry Registry { get; } = new();

    /// <summary>Every log line the worker and orchestrations wrote.</summary>
    public RecordingLoggerFactory Logs { get; } = new();

    /// <summary>The current store (a re-opened one after <see cref="RestartAsync"/>), wrapped in the invariant checks.</summary>
    public InvariantCheckingStore Store { get; private set; }

    /// <summary>The current worker.</summary>
    public DurableTaskWorker Worker { get; private set; }

    /// <summary>The current client (it knows the registry, so unknown names are refused up front).</summary>
    public DurableTaskClient Client { get; private set; }

    /// <summary>The current time of <see cref="Clock"/> as a UTC <see cref="DateTime"/>.</summary>
    public DateTime Now => this.Clock.GetUtcNow().UtcDateTime;

    /// <summary>Creates a harness on a new store and initializes the store.</summary>
    /// <param name="store">The store, created on <paramref name="clock"/>.</param>
    /// <param name="openStore">Re-opens the same store (same database) on a clock; in-memory returns the same instance.</param>
    /// <param name="clock">The fake clock.</param>
    /// <param name="options">Engine options.</param>
    public static async Task<EngineHarness> CreateAsync(
        IOrchestrationStore store, Func<TimeProvider, IOrchestrationStore> openStore, ManualTimeProvider clock, DurableTaskOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(openStore);
        await store.InitializeAsync();
        return new EngineHarness(store, openStore, clock, options);
    }

    /// <summary>Schedules a new instance through the client and returns its id.</summary>
    public Task<string> StartAsync(string orchestratorName, object? input = null, string? instanceId = null) =>
        this.Client.ScheduleNewOrchestrationInstanceAsync(orchestratorName, input, new StartOrchestrationOptions(instanceId));

    /// <summary>Reads an instance with its inputs and outputs; fails the test if it does not exist.</summary>
    public async Task<OrchestrationMetadata> GetAsync(string instanceId) =>
        await this.Client.GetInstanceAsync(instanceId, getInputsAndOutputs: true)
        ?? throw new XunitException($"Instance '{instanceId}' does not exist.");

    /// <summary>Starts an instance, runs until idle and returns its state.</summary>
    public async Task<OrchestrationMetadata> RunAsync(string orchestratorName, object? input = null, string? instanceId = null)
    {
        string id = await this.StartAsync(orchestratorName, input, instanceId);
        await this.RunUntilIdleAsync();
        return await this.GetAsync(id);
    }

    /// <summary>
    /// Runs orchestration steps and activities, alternating, until neither kind has visible work. Returns
    /// how many work items ran. Fails the test after <see cref="MaxWorkItemsPerRun"/> items: an
    /// orchestration that never goes idle at a fixed time is a bug in the engine or the test.
    /// </summary>
    public async Task<int> RunUntilIdleAsync()
    {
        int processed = 0;
        while (true)
        {
            bool any = false;
            if (await this.Worker.TryProcessNextOrchestrationAsync())
            {
                any = true;
                processed++;
            }

            if (await this.Worker.TryProcessNextActivityAsync())
            {
                any = true;
                processed++;
            }

            if (!any)
            {
                this.AssertInvariants();
                return processed;
            }

            if (processed > MaxWorkItemsPerRun)
            {
                throw new XunitException(
                    $"The engine was still busy after {MaxWorkItemsPerRun} work items at {this.Now:O} on store '{this.Store.Name}'. " +
                    "An orchestration is probably looping without waiting (for example re-sending itself events or timers in the past).");
            }
        }
    }

    /// <summary>
    /// Moves the clock forward by <paramref name="delta"/>, stopping at every time the store reports work
    /// becoming visible (timers, delayed retries, expiring locks) and running until idle there, so each timer
    /// fires at exactly its due time. Then runs until idle at the target time.
    /// </summary>
    public async Task AdvanceAsync(TimeSpan delta)
    {
        if (delta < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "The clock only moves forward.");
        }

        DateTime target = this.Now + delta;
        await this.RunUntilIdleAsync();
        for (int wakeUps = 0; ; wakeUps++)
        {
            if (wakeUps >= MaxWakeUpsPerAdvance)
            {
                throw new XunitException(
                    $"Advancing the clock to {target:O} stepped through {MaxWakeUpsPerAdvance} wake-ups on store '{this.Store.Name}'; " +
                    "an orchestration is probably scheduling timers in a loop.");
            }

            DateTime? next = Earliest(
                await this.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration),
                await this.Store.GetNextWakeUpTimeAsync(WorkItemKind.Activity));
            if (next is not { } due || due > target)
            {
                break;
            }

            if (due > this.Now)
            {
                this.Clock.SetUtcNow(new DateTimeOffset(DateTime.SpecifyKind(due, DateTimeKind.Utc)));
            }

            await this.RunUntilIdleAsync();
        }

        if (target > this.Now)
        {
            this.Clock.SetUtcNow(new DateTimeOffset(DateTime.SpecifyKind(target, DateTimeKind.Utc)));
        }

        await this.RunUntilIdleAsync();
    }

    /// <summary>
    /// Simulates a process restart: re-opens the store (a durable store opens the same database again;
    /// the in-memory store returns the same instance), and builds a new worker (empty replay cache) and client.
    /// The clock does not move. A store that was replaced is disposed when the harness is.
    /// </summary>
    public async Task RestartAsync()
    {
        IOrchestrationStore reopened = this.openStore(this.Clock);
        if (!this.stores.Contains(reopened))
        {
            this.stores.Add(reopened);
        }

        await reopened.InitializeAsync();
        this.AssertInvariants();
        this.Store = new InvariantCheckingStore(reopened);
        this.BuildWorkerAndClient();
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        foreach (IOrchestrationStore store in this.stores)
        {
            switch (store)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }

        this.stores.Clear();
        if (this.services is IDisposable d)
        {
            d.Dispose();
        }
    }

    /// <summary>Fails the test if a step commit broke a commit invariant (see <see cref="InvariantCheckingStore"/>).
    /// Each violation is reported once.</summary>
    public void AssertInvariants()
    {
        var fresh = this.Store.Violations.Except(this.reportedViolations).ToList();
        if (fresh.Count > 0)
        {
            this.reportedViolations.UnionWith(fresh);
            throw new XunitException($"Step-commit invariants were broken on store '{this.Store.Name}':{Environment.NewLine}" +
                string.Join(Environment.NewLine, fresh));
        }
    }

    private static DateTime? Earliest(DateTime? a, DateTime? b) =>
        a is null ? b : b is null ? a : (a < b ? a : b);

    private void BuildWorkerAndClient()
    {
        IOptions<DurableTaskOptions> options = Microsoft.Extensions.Options.Options.Create(this.Options);
        this.Worker = new DurableTaskWorker(this.Store, this.Registry, this.services, options, this.Clock, this.Logs);
        this.Client = new DurableTaskClient(this.Store, options, this.Clock, this.Registry);
    }
}
