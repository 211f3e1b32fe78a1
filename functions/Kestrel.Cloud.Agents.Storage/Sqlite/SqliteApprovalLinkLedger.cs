using Kestrel.Cloud.Agents.Approvals;
using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Agents.Storage.Sqlite;

/// <summary>
/// The approval-link ledger in the <c>agent_approval_links</c> table: consuming a link inserts its id; the primary key
/// and the write transaction make exactly one of any number of racing callers (threads or processes) win. Each call also
/// purges up to <see cref="MaxPurgePerCall"/> entries that expired more than <see cref="IApprovalLinkLedger.PurgeGrace"/> ago: their links
/// are refused by the signature check anyway. <see cref="PurgeExpiredAsync"/> (housekeeping) does the same in bigger batches.
/// </summary>
public sealed class SqliteApprovalLinkLedger : IApprovalLinkLedger
{
    /// <summary>Most expired entries removed by one call.</summary>
    public const int MaxPurgePerCall = 100;

    private readonly SqliteAgentDatabase database;

    /// <summary>Creates the ledger on <paramref name="database"/>.</summary>
    public SqliteApprovalLinkLedger(SqliteAgentDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        this.database = database;
    }

    /// <inheritdoc/>
    public Task<bool> TryConsumeAsync(string linkId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(linkId);
        return this.database.WriteAsync(
            (c, t) =>
            {
                this.Purge(c, t, MaxPurgePerCall);
                using SqliteCommand insert = SqliteAgentDatabase.Command(
                    c, "INSERT INTO agent_approval_links (link_id, expires_ticks) VALUES ($id, $expires) ON CONFLICT (link_id) DO NOTHING;", t);
                insert.Parameters.AddWithValue("$id", linkId);
                insert.Parameters.AddWithValue("$expires", expiresAt.UtcTicks);
                return insert.ExecuteNonQuery() == 1;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<int> PurgeExpiredAsync(int maxCount = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        return this.database.WriteAsync((c, t) => this.Purge(c, t, maxCount), cancellationToken);
    }

    /// <summary>How many link ids the ledger holds (for tests and operations).</summary>
    public Task<long> CountAsync(CancellationToken cancellationToken = default) =>
        this.database.ReadAsync(
            c =>
            {
                using SqliteCommand count = SqliteAgentDatabase.Command(c, "SELECT COUNT(*) FROM agent_approval_links;");
                return Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            },
            cancellationToken);

    // Deletes at most max entries that expired more than IApprovalLinkLedger.PurgeGrace ago; returns how many.
    private int Purge(SqliteConnection connection, SqliteTransaction transaction, int max)
    {
        using SqliteCommand purge = SqliteAgentDatabase.Command(
            connection, "DELETE FROM agent_approval_links WHERE link_id IN (SELECT link_id FROM agent_approval_links WHERE expires_ticks < $before LIMIT $max);", transaction);
        purge.Parameters.AddWithValue("$before", (this.database.TimeProvider.GetUtcNow() - IApprovalLinkLedger.PurgeGrace).UtcTicks);
        purge.Parameters.AddWithValue("$max", max);
        return purge.ExecuteNonQuery();
    }
}
