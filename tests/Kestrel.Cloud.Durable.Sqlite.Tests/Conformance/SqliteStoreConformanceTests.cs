using Kestrel.Cloud.Durable.Conformance;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Durable.Sqlite.Tests.Conformance;

/// <summary>Runs the store conformance suite against <see cref="SqliteOrchestrationStore"/> on a fresh database file.</summary>
public sealed class SqliteStoreConformanceTests : OrchestrationStoreConformanceTests
{
    private readonly TempDirectory folder = new("kestrel-sqlite-conformance");
    private string? databasePath;

    /// <inheritdoc/>
    protected override IOrchestrationStore CreateStore(TimeProvider clock)
    {
        this.databasePath = Path.Combine(this.folder.Path, $"{Guid.NewGuid():N}.db");
        return new SqliteOrchestrationStore(new SqliteStoreOptions { DatabasePath = this.databasePath }, clock);
    }

    /// <inheritdoc/>
    /// <remarks>A new store object on the same file, as a restarted process would open it.</remarks>
    protected override IOrchestrationStore OpenStore(TimeProvider clock) =>
        new SqliteOrchestrationStore(
            new SqliteStoreOptions { DatabasePath = this.databasePath ?? throw new InvalidOperationException("OpenStore was called before CreateStore.") },
            clock);

    /// <inheritdoc/>
    public override async Task DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            this.folder.Dispose();
        }
    }
}
