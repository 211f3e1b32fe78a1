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
}

/// <summary>The ledger in process memory (the <c>memory</c> store and tests).</summary>
public sealed class InMemoryApprovalLinkLedger : IApprovalLinkLedger
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> used = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task<bool> TryConsumeAsync(string linkId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(linkId);
        return Task.FromResult(this.used.TryAdd(linkId, expiresAt));
    }
}
