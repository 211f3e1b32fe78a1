using System.Text.Json;
using Kestrel.Cloud.Agents.Runs;
using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Agents.Storage.Sqlite;

/// <summary>
/// Run event logs in the <c>agent_run_events</c> table of a <see cref="SqliteAgentDatabase"/>: one row per event,
/// keyed by (run, sequence), with a unique (run, key) index. A batch is one transaction: checked, de-duplicated,
/// numbered after the run's last sequence and inserted, or nothing is. Readable by every process using the file.
/// <see cref="WaitAsync"/> is woken by appends through the same <see cref="SqliteAgentDatabase"/> instance; appends
/// by other processes are seen on the caller's next read, at the latest after <c>maxWait</c>.
/// </summary>
public sealed class SqliteRunEventLog : IRunEventLog
{
    private readonly SqliteAgentDatabase database;

    /// <summary>Creates the log on <paramref name="database"/>.</summary>
    public SqliteRunEventLog(SqliteAgentDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        this.database = database;
    }

    /// <inheritdoc/>
    public async Task<long> AppendAsync(string runId, IReadOnlyList<NewRunEvent> events, CancellationToken cancellationToken = default)
    {
        RunEventBatch.CheckAll(runId, events);
        (long last, bool appended) = await this.database.WriteAsync(
            (c, t) =>
            {
                long count = LastSequence(c, runId, t);
                var existing = new HashSet<string>(StringComparer.Ordinal);
                if (count > 0 && events.Count > 0)
                {
                    using SqliteCommand keys = SqliteAgentDatabase.Command(c, "SELECT event_key FROM agent_run_events WHERE run_id = $run AND event_key = $key;", t);
                    keys.Parameters.AddWithValue("$run", runId);
                    SqliteParameter key = keys.Parameters.Add("$key", SqliteType.Text);
                    foreach (NewRunEvent e in events)
                    {
                        key.Value = e.Key;
                        if (keys.ExecuteScalar() is not null)
                        {
                            existing.Add(e.Key);
                        }
                    }
                }

                List<NewRunEvent> fresh = RunEventBatch.Fresh(events, existing.Contains);
                RunEventBatch.EnsureRoom(runId, count, fresh.Count);

                if (fresh.Count == 0)
                {
                    return (count, false);
                }

                long now = this.database.TimeProvider.GetUtcNow().UtcTicks;
                using SqliteCommand insert = SqliteAgentDatabase.Command(
                    c, "INSERT INTO agent_run_events (run_id, seq, event_key, type, timestamp_ticks, data) VALUES ($run, $seq, $key, $type, $ts, $data);", t);
                insert.Parameters.AddWithValue("$run", runId);
                insert.Parameters.AddWithValue("$ts", now);
                SqliteParameter seq = insert.Parameters.Add("$seq", SqliteType.Integer);
                SqliteParameter eventKey = insert.Parameters.Add("$key", SqliteType.Text);
                SqliteParameter type = insert.Parameters.Add("$type", SqliteType.Text);
                SqliteParameter data = insert.Parameters.Add("$data", SqliteType.Text);
                foreach (NewRunEvent e in fresh)
                {
                    seq.Value = ++count;
                    eventKey.Value = e.Key;
                    type.Value = e.Type;
                    data.Value = e.Data.GetRawText();
                    insert.ExecuteNonQuery();
                }

                return (count, true);
            },
            cancellationToken).ConfigureAwait(false);

        if (appended)
        {
            this.database.Signals.Notify(runId);
        }

        return last;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<RunEvent>> ReadAsync(string runId, long afterSequence, int maxCount = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        return this.database.ReadAsync<IReadOnlyList<RunEvent>>(
            c =>
            {
                using SqliteCommand read = SqliteAgentDatabase.Command(
                    c, "SELECT seq, type, timestamp_ticks, data FROM agent_run_events WHERE run_id = $run AND seq > $after ORDER BY seq LIMIT $max;");
                read.Parameters.AddWithValue("$run", runId);
                read.Parameters.AddWithValue("$after", Math.Max(afterSequence, 0));
                read.Parameters.AddWithValue("$max", maxCount);
                using SqliteDataReader reader = read.ExecuteReader();
                var result = new List<RunEvent>();
                while (reader.Read())
                {
                    using JsonDocument data = JsonDocument.Parse(reader.GetString(3));
                    result.Add(new RunEvent(reader.GetInt64(0), reader.GetString(1), new DateTimeOffset(reader.GetInt64(2), TimeSpan.Zero), data.RootElement.Clone()));
                }

                return result;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public async Task WaitAsync(string runId, long afterSequence, TimeSpan maxWait, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        cancellationToken.ThrowIfCancellationRequested();

        // Take the signal before looking, so an append between the look and the wait still wakes us.
        using RunEventSignals.Lease lease = this.database.Signals.Acquire(runId);
        long last = await this.database.ReadAsync(c => LastSequence(c, runId, null), cancellationToken).ConfigureAwait(false);
        if (last > afterSequence)
        {
            return;
        }

        await RunEventSignals.WaitAsync(lease.Task, maxWait, this.database.TimeProvider, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteAsync(string runId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        int deleted = await this.database.WriteAsync(
            (c, t) =>
            {
                using SqliteCommand delete = SqliteAgentDatabase.Command(c, "DELETE FROM agent_run_events WHERE run_id = $run;", t);
                delete.Parameters.AddWithValue("$run", runId);
                return delete.ExecuteNonQuery();
            },
            cancellationToken).ConfigureAwait(false);
        return deleted > 0;
    }

    private static long LastSequence(SqliteConnection connection, string runId, SqliteTransaction? transaction)
    {
        using SqliteCommand last = SqliteAgentDatabase.Command(connection, "SELECT COALESCE(MAX(seq), 0) FROM agent_run_events WHERE run_id = $run;", transaction);
        last.Parameters.AddWithValue("$run", runId);
        return Convert.ToInt64(last.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
