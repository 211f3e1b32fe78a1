using Kestrel.Cloud.Agents.Sessions;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>
/// What one attempt of <see cref="SessionUpdate.ApplyAsync{T}"/> decided: <see cref="Result"/> alone (nothing to save),
/// or the messages and applied runs to save, with <see cref="Result"/> returned once they are saved.
/// </summary>
internal readonly record struct SessionChange<T>(T Result, IReadOnlyList<TurnMessage>? Messages, IReadOnlyList<string>? AppliedRuns)
{
    /// <summary>Nothing to save: <paramref name="result"/> is returned as is.</summary>
    public static SessionChange<T> Done(T result) => new(result, null, null);

    /// <summary>Save <paramref name="messages"/> and <paramref name="appliedRuns"/>; <paramref name="result"/> is returned once saved.</summary>
    public static SessionChange<T> Save(IReadOnlyList<TurnMessage> messages, IReadOnlyList<string> appliedRuns, T result) => new(result, messages, appliedRuns);
}

/// <summary>The optimistic read-change-save loop over a session that the turn activities share.</summary>
internal static class SessionUpdate
{
    /// <summary>
    /// Reads the session, lets <paramref name="change"/> decide on it (the session is null when there is none), and
    /// saves what it asks for with the ETag that was read; when a concurrent write changed the session in between, reads
    /// it again and retries, at most <paramref name="maxAttempts"/> reads in all. Then throws <see cref="TurnException"/>
    /// with <paramref name="conflictMessage"/>.
    /// </summary>
    public static async Task<T> ApplyAsync<T>(
        ISessionStore sessions,
        string agent,
        string sessionKey,
        int maxAttempts,
        Func<StoredSession?, Task<SessionChange<T>>> change,
        string conflictMessage,
        CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < maxAttempts; attempt++)
        {
            StoredSession? session = await sessions.GetAsync(agent, sessionKey, cancellationToken).ConfigureAwait(false);
            SessionChange<T> decided = await change(session).ConfigureAwait(false);
            if (decided is not { Messages: { } messages, AppliedRuns: { } appliedRuns })
            {
                return decided.Result;
            }

            StoredSession? saved = await sessions.SaveAsync(
                agent, sessionKey, TurnMessages.ToSessionJson(messages), messages.Count, appliedRuns, session?.ETag, cancellationToken).ConfigureAwait(false);
            if (saved is not null)
            {
                return decided.Result;
            }
        }

        throw new TurnException(conflictMessage);
    }
}
