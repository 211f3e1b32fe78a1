namespace Kestrel.Cloud.Durable.Sqlite;

/// <summary>
/// Settings of the SQLite store. Validated once when the store is built; all errors are reported together.
/// </summary>
public sealed class SqliteStoreOptions
{
    /// <summary>Longest accepted <see cref="BusyTimeout"/>.</summary>
    public static readonly TimeSpan MaxBusyTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The database file. Its folder is created if missing. Several processes may share one file (each
    /// takes work with expiring locks); the file must be on a local disk (WAL mode does not work over
    /// network file systems).
    /// </summary>
    /// <value>The default value is <c>.data/durable.db</c>, relative to the current directory.</value>
    public string DatabasePath { get; set; } = Path.Combine(".data", "durable.db");

    /// <summary>
    /// How long a write waits for another process that holds the database's write lock before it fails.
    /// Writes of this process never wait on each other here: they are queued in process first.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(this.DatabasePath))
        {
            errors.Add("The value for DatabasePath must be a file path; it is empty.");
        }
        else if (this.DatabasePath.Trim().Equals(":memory:", StringComparison.OrdinalIgnoreCase)
            || this.DatabasePath.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"The value for DatabasePath must be a plain file path; it is '{this.DatabasePath}'. For a store that keeps nothing, use AddDurableTaskInMemoryStore.");
        }

        if (this.BusyTimeout <= TimeSpan.Zero || this.BusyTimeout > MaxBusyTimeout)
        {
            errors.Add($"The value for BusyTimeout must be greater than zero and at most {MaxBusyTimeout}; it is {this.BusyTimeout}.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid SqliteStoreOptions: " + string.Join(" ", errors));
        }
    }
}
