namespace Kestrel.Cloud.Durable.Sqlite;

/// <summary>
/// The database layout. Times are UTC ticks; 0 in <c>visible_at</c> means "visible now" and 0 in
/// <c>lock_expires</c> means "not locked". History rows are append-only per (instance_id, seq) and hold
/// only the current execution. Timers are inbox rows whose <c>visible_at</c> lies in the future. Indexes are
/// kept to what the hot path reads: every index is one more page written per change. The activities table
/// has no index on instance_id: it holds only pending activities, and only purge and restart scan it.
/// </summary>
internal static class SqliteSchema
{
    /// <summary>The version this code writes and reads. Bump it with a migration when the layout changes.</summary>
    public const int CurrentVersion = 1;

    public const string Create = """
        CREATE TABLE IF NOT EXISTS instances (
            instance_id TEXT NOT NULL PRIMARY KEY,
            name TEXT NOT NULL,
            execution_id TEXT NOT NULL,
            status INTEGER NOT NULL,
            input TEXT,
            output TEXT,
            custom_status TEXT,
            failure TEXT,
            created_at INTEGER NOT NULL,
            last_updated_at INTEGER NOT NULL,
            parent_instance_id TEXT,
            history_count INTEGER NOT NULL DEFAULT 0,
            lock_token TEXT,
            lock_expires INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS ix_instances_created ON instances (created_at);
        CREATE TABLE IF NOT EXISTS history (
            instance_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            event TEXT NOT NULL,
            PRIMARY KEY (instance_id, seq)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS inbox (
            seq INTEGER NOT NULL PRIMARY KEY,
            instance_id TEXT NOT NULL,
            visible_at INTEGER NOT NULL,
            delivery_count INTEGER NOT NULL DEFAULT 0,
            message TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_inbox_instance ON inbox (instance_id);
        CREATE INDEX IF NOT EXISTS ix_inbox_visible ON inbox (visible_at);
        CREATE TABLE IF NOT EXISTS activities (
            seq INTEGER NOT NULL PRIMARY KEY,
            instance_id TEXT NOT NULL,
            execution_id TEXT NOT NULL,
            task_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            input TEXT,
            visible_at INTEGER NOT NULL DEFAULT 0,
            lock_token TEXT,
            lock_expires INTEGER NOT NULL DEFAULT 0,
            delivery_count INTEGER NOT NULL DEFAULT 0);
        """;
}
