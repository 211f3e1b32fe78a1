using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>
/// The behaviour every <see cref="IOrchestrationStore"/> must show, run through the real worker and client.
/// A store's test project subclasses this class and implements <see cref="CreateStore"/> and
/// <see cref="OpenStore"/>; xunit runs every inherited test against that store. Each test's summary says
/// what it proves. Tests drive the engine by hand on a <see cref="ManualTimeProvider"/> (see
/// <see cref="EngineHarness"/>), except the hosted-dispatcher test, which runs on the system clock.
/// </summary>
public abstract partial class OrchestrationStoreConformanceTests : IAsyncLifetime
{
    private readonly List<EngineHarness> harnesses = new();
    private readonly List<object> extraStores = new();

    /// <summary>The fixed start of the fake clock in every harness.</summary>
    protected static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>
    /// Creates a new, empty store on <paramref name="clock"/> (a <see cref="ManualTimeProvider"/> in every test
    /// but the hosted-dispatcher one, which passes <see cref="TimeProvider.System"/>). The harness calls
    /// InitializeAsync. Called at most once per test for the fake clock.
    /// </summary>
    protected abstract IOrchestrationStore CreateStore(TimeProvider clock);

    /// <summary>
    /// Opens the store most recently created by <see cref="CreateStore"/> again, as a new process would: a durable
    /// store opens the same database with a new store object; the in-memory store returns the same instance.
    /// </summary>
    protected abstract IOrchestrationStore OpenStore(TimeProvider clock);

    /// <inheritdoc/>
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Disposes every harness (and its stores) the test created, then fails the test if a step commit broke an
    /// invariant that was not reported yet. Subclasses that override call this.</summary>
    public virtual async Task DisposeAsync()
    {
        foreach (EngineHarness harness in this.harnesses)
        {
            await harness.DisposeAsync();
        }

        foreach (object store in this.extraStores)
        {
            if (store is IAsyncDisposable ad)
            {
                await ad.DisposeAsync();
            }
            else if (store is IDisposable d)
            {
                d.Dispose();
            }
        }

        // Commits made after the last run (a test that calls the worker directly) are checked here.
        foreach (EngineHarness harness in this.harnesses)
        {
            harness.AssertInvariants();
        }
    }

    /// <summary>Creates a harness on a new store with default options, or options changed by <paramref name="configure"/>.</summary>
    protected async Task<EngineHarness> CreateHarnessAsync(Action<DurableTaskOptions>? configure = null)
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(T0));
        var options = new DurableTaskOptions();
        configure?.Invoke(options);
        EngineHarness harness = await EngineHarness.CreateAsync(this.CreateStore(clock), this.OpenStore, clock, options);
        this.harnesses.Add(harness);
        return harness;
    }

    /// <summary>Creates a harness whose worker never caches replayed orchestrations, so every step replays the whole history.</summary>
    protected Task<EngineHarness> CreateHarnessAsync(bool forceFullReplay) =>
        this.CreateHarnessAsync(o => o.MaxCachedOrchestrations = forceFullReplay ? 0 : new DurableTaskOptions().MaxCachedOrchestrations);

    /// <summary>Keeps a store created outside a harness so it is disposed after the test.</summary>
    protected void TrackForDisposal(object store) => this.extraStores.Add(store);

    /// <summary>Throws from an activity or orchestrator lambda while keeping the lambda's return type.</summary>
    protected static T Throw<T>(Exception exception) => throw exception;

    /// <summary>The events of one type in an instance's current history.</summary>
    protected static async Task<List<T>> HistoryOfAsync<T>(EngineHarness harness, string instanceId)
        where T : HistoryEvent =>
        (await harness.Client.GetHistoryAsync(instanceId)).OfType<T>().ToList();

    /// <summary>Asserts an instance completed (failing with its failure details otherwise) and returns its output.</summary>
    protected static T? OutputOf<T>(OrchestrationMetadata metadata)
    {
        metadata.FailureDetails.Should().BeNull("the instance should not have failed");
        metadata.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        return metadata.ReadOutputAs<T>();
    }
}
