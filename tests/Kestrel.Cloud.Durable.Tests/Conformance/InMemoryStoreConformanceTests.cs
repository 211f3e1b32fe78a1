using Kestrel.Cloud.Durable.Conformance;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Tests.Conformance;

/// <summary>Runs the store conformance suite against <see cref="InMemoryOrchestrationStore"/>.</summary>
public sealed class InMemoryStoreConformanceTests : OrchestrationStoreConformanceTests
{
    private InMemoryOrchestrationStore? lastCreated;

    /// <inheritdoc/>
    protected override IOrchestrationStore CreateStore(TimeProvider clock) => this.lastCreated = new InMemoryOrchestrationStore(clock);

    /// <inheritdoc/>
    /// <remarks>Nothing survives a real restart of the in-memory store, so "re-opening" it returns the same instance;
    /// the harness still drops the worker, its replay cache and the client.</remarks>
    protected override IOrchestrationStore OpenStore(TimeProvider clock) =>
        this.lastCreated ?? throw new InvalidOperationException("OpenStore was called before CreateStore.");
}
