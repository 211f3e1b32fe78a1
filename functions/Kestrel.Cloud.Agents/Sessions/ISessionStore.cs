namespace Kestrel.Cloud.Agents.Sessions;

/// <summary>
/// A stored conversation: an agent's history for one session key. <see cref="MessagesJson"/> is the message list as
/// JSON (Microsoft.Extensions.AI <c>ChatMessage</c>s serialized with <c>AIJsonUtilities.DefaultOptions</c>);
/// <see cref="AppliedRuns"/> names the last runs whose messages were saved, so a save retried by an at-least-once
/// activity is recognised. <see cref="ETag"/> changes on every write.
/// </summary>
public sealed record StoredSession(
    string Agent,
    string Key,
    string MessagesJson,
    int MessageCount,
    IReadOnlyList<string> AppliedRuns,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string ETag);

/// <summary>A session's name and size, for listings.</summary>
public sealed record SessionSummary(string Agent, string Key, int MessageCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>
/// Sessions by agent and key. One implementation per store. Writes are optimistic: <see cref="SaveAsync"/> with an
/// ETag only succeeds while the stored session still has it, so two turns of one session never lose each other's messages.
/// </summary>
public interface ISessionStore
{
    /// <summary>The session, or null.</summary>
    Task<StoredSession?> GetAsync(string agent, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates (<paramref name="expectedETag"/> null: only when it does not exist) or replaces (only while the stored
    /// ETag equals <paramref name="expectedETag"/>) a session. Returns the stored session with its new ETag, or null
    /// when the condition failed (re-read and retry). CreatedAt is kept from the stored copy on replace.
    /// </summary>
    Task<StoredSession?> SaveAsync(string agent, string key, string messagesJson, int messageCount, IReadOnlyList<string> appliedRuns, string? expectedETag, CancellationToken cancellationToken = default);

    /// <summary>One page of sessions (all agents when <paramref name="agent"/> is null), ordered by agent then key.</summary>
    Task<(IReadOnlyList<SessionSummary> Sessions, string? ContinuationToken)> ListAsync(string? agent, int pageSize = 100, string? continuationToken = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes a session; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string agent, string key, CancellationToken cancellationToken = default);
}

/// <summary>Rules every session store applies.</summary>
public static class SessionKeys
{
    /// <summary>The key of the session a message uses when it names none.</summary>
    public const string Default = "default";

    /// <summary>Longest session key.</summary>
    public const int MaxLength = 128;

    /// <summary>True when <paramref name="key"/> is 1-128 characters of letters, digits and <c>-_.:@</c>.</summary>
    public static bool IsValid(string? key) =>
        !string.IsNullOrEmpty(key) && key.Length <= MaxLength && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':' or '@');

    /// <summary>Throws <see cref="ArgumentException"/> with the rule when <paramref name="key"/> is not valid.</summary>
    public static void Validate(string? key)
    {
        if (!IsValid(key))
        {
            throw new ArgumentException($"The session key '{key}' is not valid: use 1-{MaxLength} letters, digits or - _ . : @.", nameof(key));
        }
    }
}
