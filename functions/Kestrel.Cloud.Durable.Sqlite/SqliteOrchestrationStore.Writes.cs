using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Durable.Sqlite;

/// <summary>
/// Group commit. Every change is an operation queued in process; whichever caller finds no drain running
/// drains the queue: up to <see cref="MaxOperationsPerTransaction"/> operations per <c>BEGIN IMMEDIATE</c>
/// transaction, each inside its own savepoint so a failing operation (a lost lock) is rolled back alone and
/// changes nothing. Callers learn their outcome only after COMMIT, so nothing is reported done that is not
/// durable. Under load one WAL commit carries many steps; alone, an operation commits by itself at once.
/// WAL checkpoints (copying committed pages into the database file, with its fsync) run on a background
/// connection after every <see cref="WritesPerCheckpoint"/> committed writes (about SQLite's own 1,000-page
/// threshold), so no writer waits for one.
/// </summary>
public sealed partial class SqliteOrchestrationStore
{
    private const int MaxOperationsPerTransaction = 128;
    private const int WritesPerCheckpoint = 256;
    private readonly object queueGate = new();
    private readonly Queue<WriteOperation> queue = new();
    private readonly List<WriteOperation> batch = new(MaxOperationsPerTransaction);
    private bool draining;
    private int writesSinceCheckpoint;
    private long committedTransactions;
    private Task checkpoint = Task.CompletedTask;

    /// <summary>Write transactions committed by this store object (for tests).</summary>
    internal long CommittedTransactions => Volatile.Read(ref this.committedTransactions);

    /// <summary>True while a caller drains the queue and has taken every queued write (for tests).</summary>
    internal bool DrainingWithEmptyQueue
    {
        get
        {
            lock (this.queueGate)
            {
                return this.draining && this.queue.Count == 0;
            }
        }
    }

    /// <summary>Writes queued and not yet taken into a transaction (for tests).</summary>
    internal int QueuedWrites
    {
        get
        {
            lock (this.queueGate)
            {
                return this.queue.Count;
            }
        }
    }

    /// <summary>The gate a transaction holds on the writer connection (for tests that hold writes back).</summary>
    internal SemaphoreSlim WriteGate => this.writeGate;

    /// <summary>Runs <paramref name="work"/> atomically in a write transaction; completes after it is committed.</summary>
    private Task<T> WriteAsync<T>(Func<StoreConnection, T> work, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        var operation = new WriteOperation<T>(work, cancellationToken);
        bool lead;
        lock (this.queueGate)
        {
            this.queue.Enqueue(operation);
            lead = !this.draining;
            this.draining = true;
        }

        if (lead)
        {
            this.Drain(inline: true);
        }

        return operation.Task;
    }

    /// <summary>
    /// Runs queued batches. A caller drains inline for one batch only (its own write is usually in it, so a
    /// lone write commits without a thread switch); if more is queued, a thread-pool thread takes over, so no
    /// caller is kept working for others under sustained load.
    /// </summary>
    private void Drain(bool inline)
    {
        while (true)
        {
            lock (this.queueGate)
            {
                if (this.queue.Count == 0)
                {
                    this.draining = false;
                    return;
                }

                this.batch.Clear();
                while (this.batch.Count < MaxOperationsPerTransaction && this.queue.TryDequeue(out WriteOperation? next))
                {
                    this.batch.Add(next);
                }
            }

            this.RunBatch(this.batch);
            if (inline)
            {
                lock (this.queueGate)
                {
                    if (this.queue.Count == 0)
                    {
                        this.draining = false;
                        return;
                    }
                }

                ThreadPool.UnsafeQueueUserWorkItem(static store => store.Drain(inline: false), this, preferLocal: false);
                return;
            }
        }
    }

    private void RunBatch(List<WriteOperation> operations)
    {
        // The gate keeps initialization and Dispose away from the writer connection while a batch runs.
        this.writeGate.Wait();
        try
        {
            if (this.disposed)
            {
                FailAll(operations, new ObjectDisposedException(nameof(SqliteOrchestrationStore)));
                return;
            }

            if (!this.initialized)
            {
                this.InitializeUnderGate();
            }

            StoreConnection c = this.writer!;
            c.Execute("BEGIN IMMEDIATE;");
            try
            {
                foreach (WriteOperation operation in operations)
                {
                    if (operation.CancellationToken.IsCancellationRequested)
                    {
                        operation.Fail(new OperationCanceledException(operation.CancellationToken));
                        continue;
                    }

                    c.Execute("SAVEPOINT op;");
                    try
                    {
                        operation.Run(c);
                        c.Execute("RELEASE op;");
                    }
                    catch (Exception ex)
                    {
                        // The operation refused (lost lock, already exists, not found) or failed: undo only its
                        // changes. If SQLite already ended the whole transaction, this throws and the batch fails.
                        c.Execute("ROLLBACK TO op;");
                        c.Execute("RELEASE op;");
                        operation.Fail(ex);
                    }
                }

                c.Execute("COMMIT;");
                Volatile.Write(ref this.committedTransactions, this.committedTransactions + 1);
                this.writesSinceCheckpoint += operations.Count;
                if (this.writesSinceCheckpoint >= WritesPerCheckpoint && this.checkpoint.IsCompleted)
                {
                    this.writesSinceCheckpoint = 0;
                    this.checkpoint = Task.Run(this.Checkpoint);
                }
            }
            catch (Exception ex)
            {
                // A database error (disk full, I/O, busy beyond BusyTimeout): the whole batch is undone.
                try
                {
                    c.Execute("ROLLBACK;");
                }
                catch (SqliteException)
                {
                    // SQLite already rolled the transaction back itself.
                }

                FailAll(operations, ex);
                return;
            }
        }
        catch (Exception ex)
        {
            FailAll(operations, ex);
            return;
        }
        finally
        {
            this.writeGate.Release();
        }

        foreach (WriteOperation operation in operations)
        {
            operation.Publish();
        }
    }

    private void Checkpoint()
    {
        try
        {
            // PASSIVE: copies what it can without blocking writers or readers.
            this.Read(c => c.Execute("PRAGMA wal_checkpoint(PASSIVE);"));
        }
        catch (Exception ex) when (ex is SqliteException or ObjectDisposedException)
        {
            // The next checkpoint catches up; SQLite also checkpoints when the last connection closes.
        }
    }

    private static void FailAll(List<WriteOperation> operations, Exception ex)
    {
        foreach (WriteOperation operation in operations)
        {
            operation.Fail(ex);
            operation.Publish();
        }
    }

    /// <summary>A queued change; its outcome is published only after the transaction that ran it ended.</summary>
    private abstract class WriteOperation
    {
        protected WriteOperation(CancellationToken cancellationToken) => this.CancellationToken = cancellationToken;

        public CancellationToken CancellationToken { get; }

        protected Exception? Error { get; private set; }

        public abstract void Run(StoreConnection connection);

        public void Fail(Exception error) => this.Error = error;

        public abstract void Publish();
    }

    private sealed class WriteOperation<T> : WriteOperation
    {
        private readonly Func<StoreConnection, T> work;
        private readonly TaskCompletionSource<T> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? result;

        public WriteOperation(Func<StoreConnection, T> work, CancellationToken cancellationToken)
            : base(cancellationToken)
        {
            this.work = work;
        }

        public Task<T> Task => this.completion.Task;

        public override void Run(StoreConnection connection) => this.result = this.work(connection);

        public override void Publish()
        {
            if (this.Error is null)
            {
                this.completion.TrySetResult(this.result!);
            }
            else if (this.Error is OperationCanceledException oce)
            {
                this.completion.TrySetCanceled(oce.CancellationToken);
            }
            else
            {
                this.completion.TrySetException(this.Error);
            }
        }
    }
}
