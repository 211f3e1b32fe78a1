using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Agents.Storage.Sqlite;

/// <summary>
/// The SQLite file of the agent stores (run events, sessions, approval links): WAL journal, a busy timeout so writers
/// of other processes are waited for, and the schema created on first use. Writes of this process go through one gate,
/// so its own threads queue instead of meeting SQLITE_BUSY; each write is one <c>BEGIN IMMEDIATE</c> transaction.
/// Table names start with <c>agent_</c>, so the file may be shared with other stores. Share one instance per file.
/// </summary>
public sealed class SqliteAgentDatabase : IDisposable
{
    /// <summary>The schema version this build writes and reads.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The default busy timeout: how long a write waits for another process's transaction.</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(30);

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS agent_run_events (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            event_key TEXT NOT NULL,
            type TEXT NOT NULL,
            timestamp_ticks INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
        CREATE UNIQUE INDEX IF NOT EXISTS ux_agent_run_events_key ON agent_run_events (run_id, event_key);
        CREATE TABLE IF NOT EXISTS agent_sessions (
            agent TEXT NOT NULL,
            session_key TEXT NOT NULL,
            messages TEXT NOT NULL,
            message_count INTEGER NOT NULL,
            applied_runs TEXT NOT NULL,
            created_ticks INTEGER NOT NULL,
            updated_ticks INTEGER NOT NULL,
            etag TEXT NOT NULL,
            PRIMARY KEY (agent, session_key)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS agent_approval_links (
            link_id TEXT NOT NULL PRIMARY KEY,
            expires_ticks INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_agent_approval_links_expires ON agent_approval_links (expires_ticks);
        """;

    private readonly SemaphoreSlim writeGate = new(1, 1);
    private readonly SemaphoreSlim initializeGate = new(1, 1);
    private readonly string connectionString;
    private volatile bool initialized;

    /// <summary>Uses (creating when missing) the database file <paramref name="databasePath"/>.</summary>
    public SqliteAgentDatabase(string databasePath, TimeSpan? busyTimeout = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        TimeSpan timeout = busyTimeout ?? DefaultBusyTimeout;
        if (timeout < TimeSpan.Zero || timeout > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(busyTimeout), timeout, $"The value for busyTimeout must be between zero and 10 minutes; it is {timeout}.");
        }

        this.DatabasePath = Path.GetFullPath(databasePath);
        this.BusyTimeout = timeout;
        this.TimeProvider = timeProvider ?? TimeProvider.System;
        this.connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = this.DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(timeout.TotalSeconds),
        }.ToString();
    }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>How long a write waits for another process's transaction before failing.</summary>
    public TimeSpan BusyTimeout { get; }

    /// <summary>The clock the stores on this database use.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>In-process wake-ups of the run event log on this file.</summary>
    internal RunEventSignals Signals { get; } = new();

    /// <summary>Creates the file, switches it to WAL and creates the schema when missing (idempotent; safe from several processes).</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (this.initialized)
        {
            return;
        }

        await this.initializeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (this.initialized)
            {
                return;
            }

            string? folder = Path.GetDirectoryName(this.DatabasePath);
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }

            using SqliteConnection connection = this.OpenCore();
            string mode = Convert.ToString(Scalar(connection, "PRAGMA journal_mode = WAL;"), CultureInfo.InvariantCulture) ?? string.Empty;
            if (!mode.Equals("wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException(
                    $"The SQLite database '{this.DatabasePath}' could not be switched to WAL journal mode (it is '{mode}'). Put the file on a local disk that supports shared memory.");
            }

            using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS agent_schema (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);");
            object? version = Scalar(connection, "SELECT version FROM agent_schema WHERE id = 1;", transaction);
            if (version is null)
            {
                Execute(connection, transaction, Schema);
                Execute(connection, transaction, $"INSERT INTO agent_schema (id, version) VALUES (1, {SchemaVersion});");
            }
            else if (Convert.ToInt64(version, CultureInfo.InvariantCulture) != SchemaVersion)
            {
                throw new InvalidOperationException(
                    $"The SQLite database '{this.DatabasePath}' has agent schema version {version}; this build reads version {SchemaVersion}. " +
                    "Run the matching version of Kestrel.Cloud, or point the agent database at a new file.");
            }

            transaction.Commit();
            this.initialized = true;
        }
        finally
        {
            this.initializeGate.Release();
        }
    }

    /// <summary>Runs <paramref name="read"/> on an open connection (schema created first).</summary>
    internal async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        await this.InitializeAsync(cancellationToken).ConfigureAwait(false);
        using SqliteConnection connection = this.OpenCore();
        return read(connection);
    }

    /// <summary>Runs <paramref name="write"/> in one <c>BEGIN IMMEDIATE</c> transaction, committed when it returns; rolled back when it throws.</summary>
    internal async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> write, CancellationToken cancellationToken)
    {
        await this.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await this.writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using SqliteConnection connection = this.OpenCore();
            using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            T result = write(connection, transaction);
            transaction.Commit();
            return result;
        }
        finally
        {
            this.writeGate.Release();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // Pooled connections keep the file open; release them so the file can be deleted or moved.
        using var connection = new SqliteConnection(this.connectionString);
        SqliteConnection.ClearPool(connection);
    }

    internal static SqliteCommand Command(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private static object? Scalar(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using SqliteCommand command = Command(connection, sql, transaction);
        return command.ExecuteScalar();
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using SqliteCommand command = Command(connection, sql, transaction);
        command.ExecuteNonQuery();
    }

    private SqliteConnection OpenCore()
    {
        var connection = new SqliteConnection(this.connectionString);
        try
        {
            connection.Open();
            using SqliteCommand busy = Command(connection, $"PRAGMA busy_timeout = {(long)this.BusyTimeout.TotalMilliseconds};");
            busy.ExecuteNonQuery();
            using SqliteCommand sync = Command(connection, "PRAGMA synchronous = NORMAL;");
            sync.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}
