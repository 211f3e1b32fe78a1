namespace Kestrel.Cloud.Agents.Approvals;

/// <summary>
/// Remembers which signed approval links were used, so each works once even when two clicks race or they land on
/// different processes. One implementation per store.
/// </summary>
public interface IApprovalLinkLedger
{
    /// <summary>
    /// Marks the link <paramref name="linkId"/> used. True for the first caller; false when it was used before.
    /// <paramref name="expiresAt"/> lets the store forget entries after the link could no longer be used anyway.
    /// </summary>
    Task<bool> TryConsumeAsync(string linkId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// How long after its link expired an entry is kept: the grace covers clock differences between processes (such a
    /// link is refused by its signature check anyway).
    /// </summary>
    public static readonly TimeSpan PurgeGrace = TimeSpan.FromHours(1);

    /// <summary>
    /// Forgets at most <paramref name="maxCount"/> entries whose link expired more than <see cref="PurgeGrace"/> ago; returns how many.
    /// Housekeeping calls it, so the ledger does not grow forever.
    /// </summary>
    Task<int> PurgeExpiredAsync(int maxCount = 1000, CancellationToken cancellationToken = default);
}

/// <summary>The ledger in process memory (the <c>memory</c> store and tests).</summary>
public sealed class InMemoryApprovalLinkLedger : IApprovalLinkLedger
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> used = new(StringComparer.Ordinal);
    private readonly TimeProvider timeProvider;

    /// <summary>Creates an empty ledger; <see cref="PurgeExpiredAsync"/> reads the time from <paramref name="timeProvider"/>.</summary>
    public InMemoryApprovalLinkLedger(TimeProvider? timeProvider = null) => this.timeProvider = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public Task<bool> TryConsumeAsync(string linkId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(linkId);
        return Task.FromResult(this.used.TryAdd(linkId, expiresAt));
    }

    /// <inheritdoc />
    public Task<int> PurgeExpiredAsync(int maxCount = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        DateTimeOffset before = this.timeProvider.GetUtcNow() - IApprovalLinkLedger.PurgeGrace;
        int deleted = 0;
        foreach (KeyValuePair<string, DateTimeOffset> entry in this.used)
        {
            if (deleted >= maxCount)
            {
                break;
            }

            if (entry.Value < before && this.used.TryRemove(entry))
            {
                deleted++;
            }
        }

        return Task.FromResult(deleted);
    }
}
