using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Durable.Sqlite;

/// <summary>
/// The embedded default store: one SQLite database file in WAL mode (synchronous=NORMAL, so a killed
/// process loses nothing it committed). Every operation that changes state is one <c>BEGIN IMMEDIATE</c>
/// transaction on a single writer connection, entered through an in-process gate so this process's threads
/// queue instead of spinning on SQLITE_BUSY; reads use a small pool of reader connections. Locks carry
/// expiry times from the injected <see cref="TimeProvider"/>, so the work of a crashed process is taken
/// again once they expire, by this process or another one on the same file. Semantics match
/// <see cref="InMemoryOrchestrationStore"/> exactly.
/// </summary>
public sealed partial class SqliteOrchestrationStore : IOrchestrationStore, IDisposable
{
    private const string InstanceColumns =
        "instance_id, name, execution_id, status, input, output, custom_status, failure, created_at, last_updated_at, parent_instance_id, history_count";

    private static readonly int[] TerminalStatuses =
        [(int)OrchestrationRuntimeStatus.Completed, (int)OrchestrationRuntimeStatus.Failed, (int)OrchestrationRuntimeStatus.Terminated];

    private readonly SqliteStoreOptions options;
    private readonly TimeProvider timeProvider;
    private readonly string connectionString;
    private readonly SemaphoreSlim writeGate = new(1, 1);
    private readonly ConcurrentBag<StoreConnection> readers = new();
    private StoreConnection? writer;
    private volatile bool initialized;
    private volatile bool disposed;

    /// <summary>Creates a store on the given clock (the system clock by default). Options are validated here.</summary>
    public SqliteOrchestrationStore(SqliteStoreOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.DatabasePath = Path.GetFullPath(options.DatabasePath);
        this.connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = this.DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = false,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
    }

    /// <inheritdoc/>
    public string Name => "sqlite";

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <inheritdoc/>
    public StoreSignals Signals { get; } = new();

    private DateTime Now => this.timeProvider.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Creates the database file and its schema if missing (idempotent; safe to run from several processes
    /// at once) and checks the schema version. Other members initialize on first use when this was not called.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        await this.writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            this.InitializeUnderGate();
        }
        finally
        {
            this.writeGate.Release();
        }
    }

    /// <inheritdoc/>
    public async Task CreateInstanceAsync(OrchestrationMessage startMessage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(startMessage);
        var es = startMessage.Event as ExecutionStartedEvent
            ?? throw new ArgumentException("The start message must carry an ExecutionStartedEvent.", nameof(startMessage));
        await this.WriteAsync(
            c =>
            {
                Target? existing = ReadTarget(c, startMessage.InstanceId);
                if (existing is not null && !existing.Status.IsTerminal())
                {
                    throw new OrchestrationAlreadyExistsException(startMessage.InstanceId, existing.Status);
                }

                this.CreateOrReplace(c, startMessage, es, existing is not null);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);

        this.Signals.NotifyOrchestrationWork();
        this.Signals.NotifyInstanceChanged(startMessage.InstanceId);
    }

    /// <inheritdoc/>
    public async Task SendMessageAsync(OrchestrationMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        await this.WriteAsync(
            c =>
            {
                if (ReadTarget(c, message.InstanceId) is null)
                {
                    throw new OrchestrationNotFoundException(message.InstanceId);
                }

                Enqueue(c, message);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);

        this.Signals.NotifyOrchestrationWork();
    }

    /// <inheritdoc/>
    public Task<InstanceRecord?> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        return Task.FromResult(this.Read(c =>
        {
            using SqliteDataReader r = c.Command($"SELECT {InstanceColumns} FROM instances WHERE instance_id = $id;").Set("$id", instanceId).ExecuteReader();
            return r.Read() ? ReadRecord(r) : null;
        }));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<HistoryEvent>> GetHistoryAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        return Task.FromResult(this.Read<IReadOnlyList<HistoryEvent>>(c =>
        {
            var events = new List<HistoryEvent>();
            using SqliteDataReader r = c.Command("SELECT event FROM history WHERE instance_id = $id ORDER BY seq;").Set("$id", instanceId).ExecuteReader();
            while (r.Read())
            {
                events.Add(StoreJson.ReadEvent(r.GetString(0)));
            }

            return events;
        }));
    }

    /// <inheritdoc/>
    public Task<InstanceQueryResult> QueryInstancesAsync(InstanceQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var (afterCreated, afterId) = QueryPaging.Decode(query.ContinuationToken);
        int pageSize = QueryPaging.ValidatePageSize(query.PageSize);
        var sql = new StringBuilder($"SELECT {InstanceColumns} FROM instances WHERE 1 = 1");
        var parameters = new List<(string Name, object Value)>();
        if (query.Statuses is { Count: > 0 })
        {
            sql.Append(" AND status IN (").AppendJoin(", ", query.Statuses.Select(s => ((int)s).ToString(CultureInfo.InvariantCulture))).Append(')');
        }

        if (query.InstanceIdPrefix is not null)
        {
            sql.Append(" AND kc_starts_with(instance_id, $idPrefix)");
            parameters.Add(("$idPrefix", query.InstanceIdPrefix));
        }

        if (query.NamePrefix is not null)
        {
            sql.Append(" AND kc_starts_with_ci(name, $namePrefix)");
            parameters.Add(("$namePrefix", query.NamePrefix));
        }

        if (query.CreatedFrom is { } from)
        {
            sql.Append(" AND created_at >= $from");
            parameters.Add(("$from", from.Ticks));
        }

        if (query.CreatedTo is { } to)
        {
            sql.Append(" AND created_at < $to");
            parameters.Add(("$to", to.Ticks));
        }

        if (afterCreated is { } ac)
        {
            sql.Append(" AND (created_at > $afterCreated OR (created_at = $afterCreated AND instance_id > $afterId COLLATE ORDINAL))");
            parameters.Add(("$afterCreated", ac.Ticks));
            parameters.Add(("$afterId", afterId ?? string.Empty));
        }

        sql.Append(" ORDER BY created_at, instance_id COLLATE ORDINAL LIMIT $limit;");
        parameters.Add(("$limit", pageSize + 1));
        List<InstanceRecord> page = this.Read(c =>
        {
            using SqliteCommand command = c.Connection.CreateCommand();
            command.CommandText = sql.ToString();
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            var records = new List<InstanceRecord>();
            using SqliteDataReader r = command.ExecuteReader();
            while (r.Read())
            {
                records.Add(ReadRecord(r));
            }

            return records;
        });
        return Task.FromResult(QueryPaging.ToResult(page, pageSize));
    }

    /// <inheritdoc/>
    public Task<bool> PurgeInstanceAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        return this.WriteAsync(
            c =>
            {
                if (ReadTarget(c, instanceId) is not { } existing)
                {
                    return false;
                }

                if (!existing.Status.IsTerminal())
                {
                    throw new InvalidOperationException(
                        $"Instance '{instanceId}' is {existing.Status}; only finished instances can be purged. Terminate it first.");
                }

                RemoveInstance(c, instanceId);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<int> PurgeInstancesAsync(PurgeInstancesFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        IEnumerable<int> statuses = filter.Statuses is { Count: > 0 }
            ? TerminalStatuses.Where(s => filter.Statuses.Contains((OrchestrationRuntimeStatus)s))
            : TerminalStatuses;
        var sql = new StringBuilder("SELECT instance_id FROM instances WHERE status IN (")
            .AppendJoin(", ", statuses.Select(s => s.ToString(CultureInfo.InvariantCulture)))
            .Append(')');
        if (filter.CreatedFrom is not null)
        {
            sql.Append(" AND created_at >= $from");
        }

        if (filter.CreatedTo is not null)
        {
            sql.Append(" AND created_at < $to");
        }

        return this.WriteAsync(
            c =>
            {
                var doomed = new List<string>();
                using (SqliteCommand command = c.Connection.CreateCommand())
                {
                    command.CommandText = sql.Append(';').ToString();
                    if (filter.CreatedFrom is { } from)
                    {
                        command.Parameters.AddWithValue("$from", from.Ticks);
                    }

                    if (filter.CreatedTo is { } to)
                    {
                        command.Parameters.AddWithValue("$to", to.Ticks);
                    }

                    using SqliteDataReader r = command.ExecuteReader();
                    while (r.Read())
                    {
                        doomed.Add(r.GetString(0));
                    }
                }

                foreach (string id in doomed)
                {
                    RemoveInstance(c, id);
                }

                return doomed.Count;
            },
            cancellationToken);
    }

    /// <summary>Closes the connections. Operations after this throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        // Wait for a write in progress so its connection is not closed under it.
        this.writeGate.Wait();
        try
        {
            if (this.disposed)
            {
                return;
            }

            this.disposed = true;
            try
            {
                this.checkpoint.Wait();
            }
            catch (AggregateException)
            {
                // A failed checkpoint does not stop the close.
            }

            this.writer?.Dispose();
            this.writer = null;
            while (this.readers.TryTake(out StoreConnection? reader))
            {
                reader.Dispose();
            }
        }
        finally
        {
            this.writeGate.Release();
        }
    }

    private static InstanceRecord ReadRecord(SqliteDataReader r) => new()
    {
        InstanceId = r.GetString(0),
        Name = r.GetString(1),
        ExecutionId = r.GetString(2),
        Status = (OrchestrationRuntimeStatus)r.GetInt32(3),
        Input = r.GetNullableString(4),
        Output = r.GetNullableString(5),
        CustomStatus = r.GetNullableString(6),
        Failure = StoreJson.ReadFailure(r.GetNullableString(7)),
        CreatedAt = new DateTime(r.GetInt64(8), DateTimeKind.Utc),
        LastUpdatedAt = new DateTime(r.GetInt64(9), DateTimeKind.Utc),
        ParentInstanceId = r.GetNullableString(10),
        HistoryCount = r.GetInt32(11),
    };

    /// <summary>The status and execution of an instance, or null when it does not exist.</summary>
    private static Target? ReadTarget(StoreConnection c, string instanceId)
    {
        using SqliteDataReader r = c.Command("SELECT status, execution_id FROM instances WHERE instance_id = $id;").Set("$id", instanceId).ExecuteReader();
        return r.Read() ? new Target((OrchestrationRuntimeStatus)r.GetInt32(0), r.GetString(1)) : null;
    }

    private static void Enqueue(StoreConnection c, OrchestrationMessage message) =>
        c.Command("INSERT INTO inbox (instance_id, visible_at, delivery_count, message) VALUES ($id, $visibleAt, 0, $message);")
            .Set("$id", message.InstanceId)
            .Set("$visibleAt", message.VisibleAt?.Ticks ?? 0L)
            .Set("$message", StoreJson.Serialize(message))
            .ExecuteNonQuery();

    private static void RemoveInstance(StoreConnection c, string instanceId)
    {
        c.Command("DELETE FROM instances WHERE instance_id = $id;").Set("$id", instanceId).ExecuteNonQuery();
        c.Command("DELETE FROM history WHERE instance_id = $id;").Set("$id", instanceId).ExecuteNonQuery();
        c.Command("DELETE FROM inbox WHERE instance_id = $id;").Set("$id", instanceId).ExecuteNonQuery();
        c.Command("DELETE FROM activities WHERE instance_id = $id;").Set("$id", instanceId).ExecuteNonQuery();
    }

    private void CreateOrReplace(StoreConnection c, OrchestrationMessage startMessage, ExecutionStartedEvent es, bool exists)
    {
        if (exists)
        {
            RemoveInstance(c, startMessage.InstanceId);
        }

        InstanceRecord record = InstanceCreation.NewRecord(startMessage.InstanceId, es, this.Now);
        c.Command(
            """
            INSERT INTO instances (instance_id, name, execution_id, status, input, output, custom_status, failure,
                                   created_at, last_updated_at, parent_instance_id, history_count, lock_token, lock_expires)
            VALUES ($id, $name, $executionId, $status, $input, NULL, NULL, NULL, $createdAt, $createdAt, $parent, 0, NULL, 0);
            """)
            .Set("$id", record.InstanceId)
            .Set("$name", record.Name)
            .Set("$executionId", record.ExecutionId)
            .Set("$status", (int)record.Status)
            .Set("$input", record.Input)
            .Set("$createdAt", record.CreatedAt.Ticks)
            .Set("$parent", record.ParentInstanceId)
            .ExecuteNonQuery();
        Enqueue(c, startMessage);
    }

    /// <summary>Opens the writer connection, switches to WAL and creates or checks the schema. The caller holds the write gate.</summary>
    private void InitializeUnderGate()
    {
        ObjectDisposedException.ThrowIf(this.disposed, this);
        string? folder = Path.GetDirectoryName(this.DatabasePath);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        this.writer ??= StoreConnection.Open(this.connectionString, this.options.BusyTimeout);
        string mode = Convert.ToString(this.writer.Command("PRAGMA journal_mode = WAL;").ExecuteScalar(), CultureInfo.InvariantCulture) ?? string.Empty;
        if (!mode.Equals("wal", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(
                $"The SQLite database '{this.DatabasePath}' could not be switched to WAL journal mode (it is '{mode}'). Put the file on a local disk that supports shared memory.");
        }

        this.InTransaction(this.writer, c =>
        {
            c.Execute("CREATE TABLE IF NOT EXISTS kc_schema (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, created_at INTEGER NOT NULL);");
            object? version = c.Command("SELECT version FROM kc_schema WHERE id = 1;").ExecuteScalar();
            if (version is null)
            {
                c.Execute(SqliteSchema.Create);
                c.Command("INSERT INTO kc_schema (id, version, created_at) VALUES (1, $v, $t);")
                    .Set("$v", SqliteSchema.CurrentVersion)
                    .Set("$t", this.Now.Ticks)
                    .ExecuteNonQuery();
            }
            else if (Convert.ToInt64(version, CultureInfo.InvariantCulture) != SqliteSchema.CurrentVersion)
            {
                throw new InvalidOperationException(
                    $"The SQLite database '{this.DatabasePath}' has schema version {version}; this build reads version {SqliteSchema.CurrentVersion}. " +
                    "Run the matching version of Kestrel.Cloud, or point DatabasePath at a new file.");
            }

            return 0;
        });
        this.initialized = true;
    }

    private T InTransaction<T>(StoreConnection c, Func<StoreConnection, T> work)
    {
        c.Execute("BEGIN IMMEDIATE;");
        T result;
        try
        {
            result = work(c);
        }
        catch
        {
            try
            {
                c.Execute("ROLLBACK;");
            }
            catch (SqliteException)
            {
                // The transaction is already gone (SQLite rolled it back itself).
            }

            throw;
        }

        c.Execute("COMMIT;");
        return result;
    }

    /// <summary>Runs <paramref name="work"/> on a pooled reader connection (each statement sees the last commit).</summary>
    private T Read<T>(Func<StoreConnection, T> work)
    {
        this.EnsureInitialized();
        ObjectDisposedException.ThrowIf(this.disposed, this);
        if (!this.readers.TryTake(out StoreConnection? c))
        {
            c = StoreConnection.Open(this.connectionString, this.options.BusyTimeout);
        }

        try
        {
            return work(c);
        }
        finally
        {
            if (this.disposed)
            {
                c.Dispose();
            }
            else
            {
                this.readers.Add(c);
            }
        }
    }

    private void EnsureInitialized()
    {
        if (this.initialized)
        {
            return;
        }

        this.writeGate.Wait();
        try
        {
            if (!this.initialized)
            {
                this.InitializeUnderGate();
            }
        }
        finally
        {
            this.writeGate.Release();
        }
    }

    private sealed record Target(OrchestrationRuntimeStatus Status, string ExecutionId);
}
