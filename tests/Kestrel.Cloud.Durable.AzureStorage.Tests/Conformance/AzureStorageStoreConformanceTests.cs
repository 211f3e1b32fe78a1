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
