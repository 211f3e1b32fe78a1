using Kestrel.Cloud.Durable.Conformance;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Testing.Azurite;

namespace Kestrel.Cloud.Durable.AzureStorage.Tests.Conformance;

/// <summary>
/// Runs the store conformance suite against <see cref="AzureStorageOrchestrationStore"/> on Azurite, one task hub
/// per test. Wake-up messages are never hidden (MaxWakeUpDelay = 0), so the manual clock alone decides when
/// timers fire and instance locks expire.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureStorageStoreConformanceTests : OrchestrationStoreConformanceTests
{
    private readonly AzuriteFixture azurite;
    private AzureStorageStoreOptions? lastOptions;

    public AzureStorageStoreConformanceTests(AzuriteFixture azurite) => this.azurite = azurite;

    /// <inheritdoc/>
    /// <remarks>
    /// Known gap (issue 3): under the hosted dispatcher on the system clock, an activity released at shutdown stays
    /// invisible in the queue until its lock visibility (ActivityLockDuration) runs out, although the direct
    /// worker path releases it at once. Nothing is lost (the next host runs it after the lock time), but it is not
    /// immediate; the cause is not found yet.
    /// </remarks>
    protected override bool ReleasesActivityAtShutdownImmediately => false;

    /// <inheritdoc/>
    protected override IOrchestrationStore CreateStore(TimeProvider clock)
    {
        this.lastOptions = Harness.Options(this.azurite);
        this.lastOptions.MaxWakeUpDelay = TimeSpan.Zero;
        return new AzureStorageOrchestrationStore(this.lastOptions, clock);
    }

    /// <inheritdoc/>
    /// <remarks>A new store object on the same task hub, as a restarted process would open it.</remarks>
    protected override IOrchestrationStore OpenStore(TimeProvider clock) =>
        new AzureStorageOrchestrationStore(this.lastOptions ?? throw new InvalidOperationException("OpenStore was called before CreateStore."), clock);
}
