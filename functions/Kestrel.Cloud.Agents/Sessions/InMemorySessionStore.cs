namespace Kestrel.Cloud.Agents.Sessions;

/// <summary>Sessions in process memory (the <c>memory</c> store and tests).</summary>
public sealed class InMemorySessionStore : ISessionStore
{
    private readonly SortedDictionary<(string Agent, string Key), StoredSession> sessions = new();
    private readonly TimeProvider timeProvider;
    private long etag;

    /// <summary>Creates an empty store; times come from <paramref name="timeProvider"/>.</summary>
    public InMemorySessionStore(TimeProvider? timeProvider = null) => this.timeProvider = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public Task<StoredSession?> GetAsync(string agent, string key, CancellationToken cancellationToken = default)
    {
        lock (this.sessions)
        {
            return Task.FromResult(this.sessions.GetValueOrDefault((agent, key)));
        }
    }

    /// <inheritdoc />
    public Task<StoredSession?> SaveAsync(string agent, string key, string messagesJson, int messageCount, IReadOnlyList<string> appliedRuns, string? expectedETag, CancellationToken cancellationToken = default)
    {
        SessionKeys.Validate(key);
        lock (this.sessions)
        {
            StoredSession? current = this.sessions.GetValueOrDefault((agent, key));
            if (current?.ETag != expectedETag)
            {
                return Task.FromResult<StoredSession?>(null);
            }

            DateTimeOffset now = this.timeProvider.GetUtcNow();
            var saved = new StoredSession(agent, key, messagesJson, messageCount, appliedRuns.ToArray(), current?.CreatedAt ?? now, now, (++this.etag).ToString(System.Globalization.CultureInfo.InvariantCulture));
            this.sessions[(agent, key)] = saved;
            return Task.FromResult<StoredSession?>(saved);
        }
    }

    /// <inheritdoc />
    public Task<(IReadOnlyList<SessionSummary> Sessions, string? ContinuationToken)> ListAsync(string? agent, int pageSize = 100, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        int skip = continuationToken is null ? 0 : int.TryParse(continuationToken, out int n) && n >= 0 ? n
            : throw new ArgumentException("The continuation token is not one this store issued.", nameof(continuationToken));
        lock (this.sessions)
        {
            var all = this.sessions.Values.Where(s => agent is null || s.Agent == agent).ToList();
            var page = all.Skip(skip).Take(pageSize).Select(s => new SessionSummary(s.Agent, s.Key, s.MessageCount, s.CreatedAt, s.UpdatedAt)).ToList();
            string? next = skip + page.Count < all.Count ? (skip + page.Count).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
            return Task.FromResult<(IReadOnlyList<SessionSummary>, string?)>((page, next));
        }
    }

    /// <inheritdoc />
    public Task<bool> DeleteAsync(string agent, string key, CancellationToken cancellationToken = default)
    {
        lock (this.sessions)
        {
            return Task.FromResult(this.sessions.Remove((agent, key)));
        }
    }
}
