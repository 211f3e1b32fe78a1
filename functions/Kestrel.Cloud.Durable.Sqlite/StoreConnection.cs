using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Durable.Sqlite;

/// <summary>
/// One open connection with its prepared commands, cached by SQL text (a command is prepared on first
/// use and re-bound afterwards). Not thread-safe: the store hands each connection to one caller at a time.
/// </summary>
internal sealed class StoreConnection : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> commands = new(StringComparer.Ordinal);

    private StoreConnection(SqliteConnection connection) => this.Connection = connection;

    public SqliteConnection Connection { get; }

    /// <summary>Opens a connection and applies the per-connection settings.</summary>
    public static StoreConnection Open(string connectionString, TimeSpan busyTimeout)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();

            // Instance ids sort as .NET sorts them (ordinal UTF-16), exactly like the in-memory store.
            connection.CreateCollation("ORDINAL", (x, y) => string.CompareOrdinal(x, y));
            connection.CreateFunction("kc_starts_with", (string value, string prefix) => value.StartsWith(prefix, StringComparison.Ordinal), isDeterministic: true);
            connection.CreateFunction("kc_starts_with_ci", (string value, string prefix) => value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase), isDeterministic: true);
            var result = new StoreConnection(connection);
            result.Execute($"PRAGMA busy_timeout = {(long)busyTimeout.TotalMilliseconds};");
            result.Execute("PRAGMA synchronous = NORMAL;");
            result.Execute("PRAGMA temp_store = MEMORY;");

            // Checkpoints run in the background (SqliteOrchestrationStore.Writes), not inside a writer's commit.
            result.Execute("PRAGMA wal_autocheckpoint = 0;");

            // After a checkpoint lets the WAL restart, a WAL file grown past this is cut back (bounded disk use).
            result.Execute("PRAGMA journal_size_limit = 67108864;");
            return result;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The cached command for <paramref name="sql"/>, with its parameters from the last use.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!this.commands.TryGetValue(sql, out SqliteCommand? command))
        {
            command = this.Connection.CreateCommand();
            command.CommandText = sql;
            this.commands.Add(sql, command);
        }

        return command;
    }

    /// <summary>Runs a statement without parameters.</summary>
    public int Execute(string sql) => this.Command(sql).ExecuteNonQuery();

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (SqliteCommand command in this.commands.Values)
        {
            command.Dispose();
        }

        this.commands.Clear();
        this.Connection.Dispose();
    }
}

/// <summary>Binding helpers for cached commands.</summary>
internal static class SqliteCommandExtensions
{
    /// <summary>Sets (adding on first use) a named parameter; null becomes SQL NULL.</summary>
    public static SqliteCommand Set(this SqliteCommand command, string name, object? value)
    {
        int index = command.Parameters.IndexOf(name);
        if (index < 0)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        else
        {
            command.Parameters[index].Value = value ?? DBNull.Value;
        }

        return command;
    }

    public static string? GetNullableString(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
