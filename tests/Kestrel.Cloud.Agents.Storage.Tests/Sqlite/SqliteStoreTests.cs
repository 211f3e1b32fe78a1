using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Storage.Sqlite;
using Kestrel.Cloud.Agents.Storage.Tests.Contracts;
using Kestrel.Cloud.Testing;
using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Agents.Storage.Tests.Sqlite;

/// <summary>A temp database file; every instance opened on it is disposed with it.</summary>
internal sealed class SqliteFile : IDisposable
{
    private readonly TempDirectory temp = new("kestrel-agents-sqlite");
    private readonly List<SqliteAgentDatabase> opened = new();

    public string Path => System.IO.Path.Join(this.temp.Path, "data", "agents.db");

    public SqliteAgentDatabase Open(TimeProvider clock)
    {
        var database = new SqliteAgentDatabase(this.Path, timeProvider: clock);
        this.opened.Add(database);
        return database;
    }

    public void Dispose()
    {
        foreach (SqliteAgentDatabase database in this.opened)
        {
            database.Dispose();
        }

        this.temp.Dispose();
    }
}

public sealed class SqliteRunEventLogTests : DurableRunEventLogContract
{
    private readonly SqliteFile file = new();

    protected override Task<IRunEventLog> CreateLogAsync() => Task.FromResult<IRunEventLog>(new SqliteRunEventLog(this.file.Open(this.Clock)));

    protected override Task<IRunEventLog> OpenSecondInstanceAsync() => Task.FromResult<IRunEventLog>(new SqliteRunEventLog(this.file.Open(this.Clock)));

    public override Task DisposeAsync()
    {
        this.file.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Database_FirstUse_CreatesFileInWalModeWithSchema()
    {
        await this.Log.AppendAsync("run-1", [Event("a")]);

        File.Exists(this.file.Path).Should().BeTrue();
        using var connection = new SqliteConnection($"Data Source={this.file.Path};Pooling=False");
        connection.Open();
        using SqliteCommand mode = connection.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode;";
        mode.ExecuteScalar().Should().Be("wal");
        using SqliteCommand tables = connection.CreateCommand();
        tables.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'agent_%' ORDER BY name;";
        using SqliteDataReader reader = tables.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        names.Should().Equal("agent_approval_links", "agent_run_events", "agent_schema", "agent_sessions");
    }

    [Fact]
    public async Task Database_OtherSchemaVersion_RefusedWithFix()
    {
        SqliteAgentDatabase database = this.file.Open(this.Clock);
        await database.InitializeAsync();
        using (var connection = new SqliteConnection($"Data Source={this.file.Path};Pooling=False"))
        {
            connection.Open();
            using SqliteCommand bump = connection.CreateCommand();
            bump.CommandText = "UPDATE agent_schema SET version = 99;";
            bump.ExecuteNonQuery();
        }

        Func<Task> open = () => new SqliteRunEventLog(this.file.Open(this.Clock)).ReadAsync("run-1", 0);

        (await open.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("has agent schema version 99; this build reads version 1");
    }
}

public sealed class SqliteSessionStoreTests : DurableSessionStoreContract
{
    private readonly SqliteFile file = new();

    protected override Task<ISessionStore> CreateStoreAsync() => Task.FromResult<ISessionStore>(new SqliteSessionStore(this.file.Open(this.Clock)));

    protected override Task<ISessionStore> OpenSecondInstanceAsync() => Task.FromResult<ISessionStore>(new SqliteSessionStore(this.file.Open(this.Clock)));

    public override Task DisposeAsync()
    {
        this.file.Dispose();
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData("not a token!")]
    [InlineData("WyJvbmx5LW9uZSJd")]
    public async Task ListAsync_ForeignContinuationToken_Throws(string token)
    {
        Func<Task> list = () => this.Store.ListAsync(null, 10, token);

        (await list.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().StartWith("The continuation token is not one this store issued.");
    }

    [Fact]
    public async Task SaveAsync_InvalidAgentName_Throws()
    {
        await FluentActions.Awaiting(() => this.Store.SaveAsync("Not Valid", "k", "[]", 0, [], null)).Should().ThrowAsync<ArgumentException>();
    }
}

public sealed class SqliteApprovalLinkLedgerTests : DurableApprovalLinkLedgerContract
{
    private readonly SqliteFile file = new();

    protected override Task<IApprovalLinkLedger> CreateLedgerAsync() => Task.FromResult<IApprovalLinkLedger>(new SqliteApprovalLinkLedger(this.file.Open(this.Clock)));

    protected override Task<IApprovalLinkLedger> OpenSecondInstanceAsync() => Task.FromResult<IApprovalLinkLedger>(new SqliteApprovalLinkLedger(this.file.Open(this.Clock)));

    public override Task DisposeAsync()
    {
        this.file.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task TryConsumeAsync_EntriesExpiredPastGrace_ArePurged()
    {
        var ledger = (SqliteApprovalLinkLedger)this.Ledger;
        DateTimeOffset now = this.Clock.GetUtcNow();
        await ledger.TryConsumeAsync("old", now.AddMinutes(-61));
        (await ledger.CountAsync()).Should().Be(1, "the purge runs before the insert, so 'old' is kept by its own call");

        await ledger.TryConsumeAsync("recent", now.AddMinutes(-59));

        (await ledger.CountAsync()).Should().Be(1, "'old' expired more than an hour ago and is purged; 'recent' is within the grace");
        (await ledger.TryConsumeAsync("recent", now.AddHours(1))).Should().BeFalse();
        (await ledger.TryConsumeAsync("old", now.AddHours(1))).Should().BeTrue("its entry was purged");
    }
}
