using System.Text.Json;
using Kestrel.Cloud.Agents.Sessions;
using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Agents.Storage.Sqlite;

/// <summary>
/// Sessions in the <c>agent_sessions</c> table, one row per (agent, key). Saves are conditional: a create inserts only
/// when no row exists, a replace updates only while the row's ETag (a new random value on every write) still equals the
/// caller's. Listing is keyset-paged in (agent, key) order; the continuation token names the last row of the page.
/// Agent names must be valid agent names (<see cref="Definitions.AgentName"/>).
/// </summary>
public sealed class SqliteSessionStore : ISessionStore
{
    private const string Columns = "agent, session_key, messages, message_count, applied_runs, created_ticks, updated_ticks, etag";

    private readonly SqliteAgentDatabase database;

    /// <summary>Creates the store on <paramref name="database"/>.</summary>
    public SqliteSessionStore(SqliteAgentDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        this.database = database;
    }

    /// <inheritdoc/>
    public Task<StoredSession?> GetAsync(string agent, string key, CancellationToken cancellationToken = default)
    {
        SessionRecords.Validate(agent, key);
        return this.database.ReadAsync(c => Read(c, null, agent, key), cancellationToken);
    }

    /// <inheritdoc/>
    public Task<StoredSession?> SaveAsync(string agent, string key, string messagesJson, int messageCount, IReadOnlyList<string> appliedRuns, string? expectedETag, CancellationToken cancellationToken = default)
    {
        SessionRecords.Validate(agent, key);
        ArgumentNullException.ThrowIfNull(messagesJson);
        ArgumentNullException.ThrowIfNull(appliedRuns);
        ArgumentOutOfRangeException.ThrowIfNegative(messageCount);
        string[] runs = appliedRuns.ToArray();
        return this.database.WriteAsync(
            (c, t) =>
            {
                long now = this.database.TimeProvider.GetUtcNow().UtcTicks;
                string etag = Guid.NewGuid().ToString("N");
                string sql = expectedETag is null
                    ? "INSERT INTO agent_sessions (" + Columns + ") VALUES ($agent, $key, $messages, $count, $runs, $now, $now, $etag) ON CONFLICT (agent, session_key) DO NOTHING;"
                    : "UPDATE agent_sessions SET messages = $messages, message_count = $count, applied_runs = $runs, updated_ticks = $now, etag = $etag " +
                      "WHERE agent = $agent AND session_key = $key AND etag = $expected;";
                using SqliteCommand write = SqliteAgentDatabase.Command(c, sql, t);
                write.Parameters.AddWithValue("$agent", agent);
                write.Parameters.AddWithValue("$key", key);
                write.Parameters.AddWithValue("$messages", messagesJson);
                write.Parameters.AddWithValue("$count", messageCount);
                write.Parameters.AddWithValue("$runs", JsonSerializer.Serialize(runs));
                write.Parameters.AddWithValue("$now", now);
                write.Parameters.AddWithValue("$etag", etag);
                write.Parameters.AddWithValue("$expected", (object?)expectedETag ?? DBNull.Value);
                return write.ExecuteNonQuery() == 1 ? Read(c, t, agent, key) : null;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<(IReadOnlyList<SessionSummary> Sessions, string? ContinuationToken)> ListAsync(string? agent, int pageSize = 100, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        (string Agent, string Key)? after = continuationToken is null ? null : SessionRecords.ParseToken(continuationToken);
        return this.database.ReadAsync<(IReadOnlyList<SessionSummary>, string?)>(
            c =>
            {
                string sql = "SELECT agent, session_key, message_count, created_ticks, updated_ticks FROM agent_sessions WHERE " +
                    "($agent IS NULL OR agent = $agent) AND ($afterAgent IS NULL OR agent > $afterAgent OR (agent = $afterAgent AND session_key > $afterKey)) " +
                    "ORDER BY agent, session_key LIMIT $limit;";
                using SqliteCommand list = SqliteAgentDatabase.Command(c, sql);
                list.Parameters.AddWithValue("$agent", (object?)agent ?? DBNull.Value);
                list.Parameters.AddWithValue("$afterAgent", (object?)after?.Agent ?? DBNull.Value);
                list.Parameters.AddWithValue("$afterKey", (object?)after?.Key ?? DBNull.Value);
                list.Parameters.AddWithValue("$limit", pageSize + 1);
                using SqliteDataReader reader = list.ExecuteReader();
                var page = new List<SessionSummary>();
                bool more = false;
                while (reader.Read())
                {
                    if (page.Count == pageSize)
                    {
                        more = true;
                        break;
                    }

                    page.Add(new SessionSummary(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), Utc(reader.GetInt64(3)), Utc(reader.GetInt64(4))));
                }

                string? next = more ? SessionRecords.Token(page[^1].Agent, page[^1].Key) : null;
                return (page, next);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteAsync(string agent, string key, CancellationToken cancellationToken = default)
    {
        SessionRecords.Validate(agent, key);
        int deleted = await this.database.WriteAsync(
            (c, t) =>
            {
                using SqliteCommand delete = SqliteAgentDatabase.Command(c, "DELETE FROM agent_sessions WHERE agent = $agent AND session_key = $key;", t);
                delete.Parameters.AddWithValue("$agent", agent);
                delete.Parameters.AddWithValue("$key", key);
                return delete.ExecuteNonQuery();
            },
            cancellationToken).ConfigureAwait(false);
        return deleted > 0;
    }

    private static StoredSession? Read(SqliteConnection connection, SqliteTransaction? transaction, string agent, string key)
    {
        using SqliteCommand read = SqliteAgentDatabase.Command(connection, "SELECT " + Columns + " FROM agent_sessions WHERE agent = $agent AND session_key = $key;", transaction);
        read.Parameters.AddWithValue("$agent", agent);
        read.Parameters.AddWithValue("$key", key);
        using SqliteDataReader reader = read.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        string[] runs = JsonSerializer.Deserialize<string[]>(reader.GetString(4)) ?? Array.Empty<string>();
        return new StoredSession(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), runs, Utc(reader.GetInt64(5)), Utc(reader.GetInt64(6)), reader.GetString(7));
    }

    private static DateTimeOffset Utc(long ticks) => new(ticks, TimeSpan.Zero);
}
