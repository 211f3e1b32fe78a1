using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Microsoft.Data.Sqlite;

namespace Kestrel.Cloud.Durable.Sqlite;

/// <summary>The worker side: locking, committing and abandoning work items.</summary>
public sealed partial class SqliteOrchestrationStore
{
    // The unlocked instance whose oldest visible message is oldest overall. Messages visible now (visible_at = 0)
    // come in seq order straight from ix_inbox_visible; due timers and delayed messages are few and sorted.
    private const string LockNextOrchestrationSql = $"""
        UPDATE instances SET lock_token = $token, lock_expires = $expires
        WHERE instance_id = (SELECT instance_id FROM (
        SELECT seq, instance_id FROM (
            SELECT m.seq AS seq, m.instance_id AS instance_id
            FROM inbox AS m CROSS JOIN instances AS i
            WHERE m.visible_at = 0 AND i.instance_id = m.instance_id AND i.lock_expires <= $now
            ORDER BY m.visible_at, m.seq LIMIT 1)
        UNION ALL
        SELECT seq, instance_id FROM (
            SELECT m.seq AS seq, m.instance_id AS instance_id
            FROM inbox AS m CROSS JOIN instances AS i
            WHERE m.visible_at > 0 AND m.visible_at <= $now AND i.instance_id = m.instance_id AND i.lock_expires <= $now
            ORDER BY m.seq LIMIT 1)
        ORDER BY seq LIMIT 1))
        RETURNING {InstanceColumns};
        """;

    /// <inheritdoc/>
    public Task<OrchestrationWorkItem?> TryLockNextOrchestrationAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.WriteAsync(
            c =>
            {
                long now = this.Now.Ticks;
                string token = Guid.NewGuid().ToString("N");
                InstanceRecord record;
                using (SqliteDataReader r = c.Command(LockNextOrchestrationSql)
                    .Set("$token", token)
                    .Set("$expires", now + lockDuration.Ticks)
                    .Set("$now", now)
                    .ExecuteReader())
                {
                    if (!r.Read())
                    {
                        return null;
                    }

                    record = ReadRecord(r);
                }

                string instanceId = record.InstanceId;
                var visible = new List<(long Seq, int DeliveryCount, string Json)>();
                using (SqliteDataReader r = c.Command("UPDATE inbox SET delivery_count = delivery_count + 1 WHERE instance_id = $id AND visible_at <= $now RETURNING seq, delivery_count, message;")
                    .Set("$id", instanceId)
                    .Set("$now", now)
                    .ExecuteReader())
                {
                    while (r.Read())
                    {
                        visible.Add((r.GetInt64(0), r.GetInt32(1), r.GetString(2)));
                    }
                }

                visible.Sort((a, b) => a.Seq.CompareTo(b.Seq));
                var messages = new OrchestrationMessage[visible.Count];
                var seqs = new long[visible.Count];
                int deliveryCount = 0;
                for (int i = 0; i < visible.Count; i++)
                {
                    messages[i] = StoreJson.ReadMessage(visible[i].Json);
                    seqs[i] = visible[i].Seq;
                    deliveryCount = Math.Max(deliveryCount, visible[i].DeliveryCount);
                }

                return new OrchestrationWorkItem(record, messages, token, deliveryCount, seqs);
            },
            cancellationToken);

    /// <inheritdoc/>
    public async Task CompleteOrchestrationAsync(OrchestrationWorkItem workItem, OrchestrationStepCommit commit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(commit);
        var consumed = (long[])workItem.StoreState!;

        // Serialize outside the write gate: the gate is held only for the database work.
        string[] events = new string[commit.NewEvents.Count];
        for (int i = 0; i < events.Length; i++)
        {
            events[i] = StoreJson.Serialize(commit.NewEvents[i]);
        }

        var changed = new List<string>();
        await this.WriteAsync(
            c =>
            {
                InstanceRecord n = commit.Instance;
                long historyCount;
                using (SqliteDataReader r = c.Command(
                    """
                    UPDATE instances SET name = $name, execution_id = $executionId, status = $status, input = $input, output = $output,
                        custom_status = $customStatus, failure = $failure, created_at = $createdAt, last_updated_at = $now,
                        parent_instance_id = $parent, history_count = (CASE WHEN $replace THEN 0 ELSE history_count END) + $added,
                        lock_token = NULL, lock_expires = 0
                    WHERE instance_id = $id AND lock_token = $token
                    RETURNING history_count;
                    """)
                    .Set("$name", n.Name)
                    .Set("$executionId", n.ExecutionId)
                    .Set("$status", (int)n.Status)
                    .Set("$input", n.Input)
                    .Set("$output", n.Output)
                    .Set("$customStatus", n.CustomStatus)
                    .Set("$failure", StoreJson.Serialize(n.Failure))
                    .Set("$createdAt", n.CreatedAt.Ticks)
                    .Set("$now", this.Now.Ticks)
                    .Set("$parent", n.ParentInstanceId)
                    .Set("$replace", commit.ReplaceHistory)
                    .Set("$added", events.Length)
                    .Set("$id", workItem.InstanceId)
                    .Set("$token", workItem.LockToken)
                    .ExecuteReader())
                {
                    if (!r.Read())
                    {
                        throw new StoreConcurrencyException(
                            $"The lock on instance '{workItem.InstanceId}' was lost (it expired and another worker took it, or the instance was purged); the step was not committed.");
                    }

                    historyCount = r.GetInt64(0);
                }

                SqliteCommand deleteMessage = c.Command("DELETE FROM inbox WHERE seq = $seq AND instance_id = $id;").Set("$id", workItem.InstanceId);
                foreach (long seq in consumed)
                {
                    deleteMessage.Set("$seq", seq).ExecuteNonQuery();
                }

                if (commit.ReplaceHistory)
                {
                    c.Command("DELETE FROM history WHERE instance_id = $id;").Set("$id", workItem.InstanceId).ExecuteNonQuery();
                }

                SqliteCommand insertEvent = c.Command("INSERT INTO history (instance_id, seq, event) VALUES ($id, $seq, $event);").Set("$id", workItem.InstanceId);
                long first = historyCount - events.Length;
                for (int i = 0; i < events.Length; i++)
                {
                    insertEvent.Set("$seq", first + i).Set("$event", events[i]).ExecuteNonQuery();
                }

                changed.Add(workItem.InstanceId);
                SqliteCommand insertActivity = c.Command(
                    """
                    INSERT INTO activities (instance_id, execution_id, task_id, name, input, visible_at, lock_token, lock_expires, delivery_count)
                    VALUES ($id, $executionId, $taskId, $name, $input, 0, NULL, 0, 0);
                    """);
                foreach (ActivityRequest a in commit.Activities)
                {
                    insertActivity
                        .Set("$id", a.InstanceId)
                        .Set("$executionId", a.ExecutionId)
                        .Set("$taskId", a.TaskId)
                        .Set("$name", a.Name)
                        .Set("$input", a.Input)
                        .ExecuteNonQuery();
                }

                foreach (OrchestrationMessage message in commit.Messages)
                {
                    this.Route(c, message, changed);
                }

                return 0;
            },
            cancellationToken).ConfigureAwait(false);

        if (commit.Activities.Count > 0)
        {
            this.Signals.NotifyActivityWork();
        }

        // Leftover messages (arrived during the step) or new ones need a step.
        this.Signals.NotifyOrchestrationWork();
        foreach (string id in changed)
        {
            this.Signals.NotifyInstanceChanged(id);
        }
    }

    /// <inheritdoc/>
    public async Task AbandonOrchestrationAsync(OrchestrationWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        await this.WriteAsync(
            c =>
            {
                // The instance waits as a whole (unlocked, but not available before lock_expires), so a message that
                // arrives meanwhile cannot overtake the released ones: they keep their arrival order.
                c.Command("UPDATE instances SET lock_token = NULL, lock_expires = $notBefore WHERE instance_id = $id AND lock_token = $token;")
                    .Set("$id", workItem.InstanceId)
                    .Set("$token", workItem.LockToken)
                    .Set("$notBefore", delay > TimeSpan.Zero ? (this.Now + delay).Ticks : 0L)
                    .ExecuteNonQuery();
                return 0;
            },
            cancellationToken).ConfigureAwait(false);

        this.Signals.NotifyOrchestrationWork();
    }

    /// <inheritdoc/>
    public Task<ActivityWorkItem?> TryLockNextActivityAsync(TimeSpan lockDuration, CancellationToken cancellationToken = default) =>
        this.WriteAsync(
            c =>
            {
                long now = this.Now.Ticks;
                string token = Guid.NewGuid().ToString("N");
                using SqliteDataReader r = c.Command(
                    """
                    UPDATE activities SET lock_token = $token, lock_expires = $expires, delivery_count = delivery_count + 1
                    WHERE seq = (SELECT seq FROM activities WHERE visible_at <= $now AND lock_expires <= $now ORDER BY seq LIMIT 1)
                    RETURNING seq, instance_id, execution_id, task_id, name, input, delivery_count;
                    """)
                    .Set("$token", token)
                    .Set("$expires", now + lockDuration.Ticks)
                    .Set("$now", now)
                    .ExecuteReader();
                if (!r.Read())
                {
                    return null;
                }

                var request = new ActivityRequest(r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetString(4), r.GetNullableString(5));
                return new ActivityWorkItem(request, token, r.GetInt32(6), r.GetInt64(0));
            },
            cancellationToken);

    /// <inheritdoc/>
    public Task<bool> RenewActivityLockAsync(ActivityWorkItem workItem, TimeSpan lockDuration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        return this.WriteAsync(
            c => c.Command("UPDATE activities SET lock_expires = $expires WHERE seq = $seq AND lock_token = $token;")
                .Set("$expires", (this.Now + lockDuration).Ticks)
                .Set("$seq", (long)workItem.StoreState!)
                .Set("$token", workItem.LockToken)
                .ExecuteNonQuery() == 1,
            cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<bool> CompleteActivityAsync(ActivityWorkItem workItem, OrchestrationMessage result, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        ArgumentNullException.ThrowIfNull(result);
        string message = StoreJson.Serialize(result);
        bool completed = await this.WriteAsync(
            c =>
            {
                int deleted = c.Command("DELETE FROM activities WHERE seq = $seq AND lock_token = $token;")
                    .Set("$seq", (long)workItem.StoreState!)
                    .Set("$token", workItem.LockToken)
                    .ExecuteNonQuery();
                if (deleted == 0)
                {
                    return false;
                }

                // The result is dropped when the instance no longer exists (purged meanwhile).
                c.Command(
                    """
                    INSERT INTO inbox (instance_id, visible_at, delivery_count, message)
                    SELECT $id, $visibleAt, 0, $message WHERE EXISTS (SELECT 1 FROM instances WHERE instance_id = $id);
                    """)
                    .Set("$id", result.InstanceId)
                    .Set("$visibleAt", result.VisibleAt?.Ticks ?? 0L)
                    .Set("$message", message)
                    .ExecuteNonQuery();
                return true;
            },
            cancellationToken).ConfigureAwait(false);

        if (completed)
        {
            this.Signals.NotifyOrchestrationWork();
        }

        return completed;
    }

    /// <inheritdoc/>
    public async Task AbandonActivityAsync(ActivityWorkItem workItem, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workItem);
        await this.WriteAsync(
            c => c.Command("UPDATE activities SET lock_token = NULL, lock_expires = 0, visible_at = $visibleAt WHERE seq = $seq AND lock_token = $token;")
                .Set("$visibleAt", (this.Now + delay).Ticks)
                .Set("$seq", (long)workItem.StoreState!)
                .Set("$token", workItem.LockToken)
                .ExecuteNonQuery(),
            cancellationToken).ConfigureAwait(false);

        this.Signals.NotifyActivityWork();
    }

    /// <inheritdoc/>
    public Task<DateTime?> GetNextWakeUpTimeAsync(WorkItemKind kind, CancellationToken cancellationToken = default)
    {
        // Per the contract: a locked item counts from its lock expiry, an unlocked one from its visible time,
        // which may be at or before now (work that came due since the last lock attempt).
        string sql = kind == WorkItemKind.Orchestration
            ? """
              SELECT MIN(CASE WHEN i.lock_expires > $now THEN i.lock_expires ELSE m.visible_at END)
              FROM inbox AS m CROSS JOIN instances AS i
              WHERE i.instance_id = m.instance_id;
              """
            : """
              SELECT MIN(CASE WHEN lock_expires > $now THEN lock_expires ELSE visible_at END) FROM activities;
              """;
        long now = this.Now.Ticks;
        return Task.FromResult(this.Read(c =>
        {
            object? value = c.Command(sql).Set("$now", now).ExecuteScalar();
            return value is long ticks ? new DateTime(ticks, DateTimeKind.Utc) : (DateTime?)null;
        }));
    }

    /// <summary>Delivers a message produced by a step, creating instances as <see cref="InstanceCreation"/> rules say.</summary>
    private void Route(StoreConnection c, OrchestrationMessage message, List<string> changed)
    {
        Target? target = ReadTarget(c, message.InstanceId);
        if (message.Event is ExecutionStartedEvent es && (target is null || !string.Equals(target.ExecutionId, es.ExecutionId, StringComparison.Ordinal)))
        {
            if (InstanceCreation.RejectionFor(message, target?.Status) is { } rejection)
            {
                this.Route(c, rejection, changed);
                return;
            }

            if (target is null || target.Status.IsTerminal())
            {
                this.CreateOrReplace(c, message, es, target is not null);
                changed.Add(message.InstanceId);
                return;
            }
        }

        if (target is not null)
        {
            Enqueue(c, message); // messages for instances that do not exist are dropped
        }
    }
}
