namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>The state of one key, for health pages and logs: the key itself is never shown, only its last four characters.</summary>
/// <param name="Index">The key's position in the configured list (0-based).</param>
/// <param name="Hint">The key's last four characters, for example <c>…x9Q2</c>.</param>
/// <param name="CoolingDownUntil">When the key is back in rotation; null when it is available.</param>
/// <param name="LastFailure">Why it was last taken out, when it was.</param>
public sealed record ApiKeyState(int Index, string Hint, DateTimeOffset? CoolingDownUntil, ProviderFailureKind? LastFailure);

/// <summary>
/// The API keys of one provider and their cooldowns. <see cref="KeyRotatingChatClient"/> takes the first key that is
/// not cooling down (so the first key is preferred whenever it works) and reports failures back; a key failing with
/// authentication, billing or rate limiting rests for the time <see cref="ApiKeyCooldownOptions"/> gives that kind (a
/// rate limit with Retry-After rests exactly that long). Thread-safe; share one pool per provider across calls.
/// </summary>
public sealed class ApiKeyPool
{
    private readonly string[] keys;
    private readonly DateTimeOffset?[] coolingDownUntil;
    private readonly ProviderFailureKind?[] lastFailure;
    private readonly ApiKeyCooldownOptions cooldowns;
    private readonly TimeProvider timeProvider;
    private readonly object gate = new();

    /// <summary>Creates the pool; <paramref name="keys"/> must hold at least one non-blank key.</summary>
    public ApiKeyPool(IEnumerable<string> keys, ApiKeyCooldownOptions? cooldowns = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        this.keys = keys.Where(k => !string.IsNullOrWhiteSpace(k)).Select(k => k.Trim()).Distinct(StringComparer.Ordinal).ToArray();
        if (this.keys.Length == 0)
        {
            throw new ArgumentException("An API key pool needs at least one non-blank key.", nameof(keys));
        }

        this.cooldowns = cooldowns ?? new ApiKeyCooldownOptions();
        this.cooldowns.Validate();
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.coolingDownUntil = new DateTimeOffset?[this.keys.Length];
        this.lastFailure = new ProviderFailureKind?[this.keys.Length];
    }

    /// <summary>How many keys the pool holds.</summary>
    public int Count => this.keys.Length;

    /// <summary>True for the kinds that say something about the key and cool it down: authentication, billing, rate limit.</summary>
    public static bool IsKeyFailure(ProviderFailureKind kind) =>
        kind is ProviderFailureKind.Authentication or ProviderFailureKind.Billing or ProviderFailureKind.RateLimited;

    /// <summary>The key at <paramref name="index"/>.</summary>
    public string GetKey(int index) => this.keys[index];

    /// <summary>The first key that is not cooling down, in configured order; false when every key is.</summary>
    public bool TryAcquire(out int index)
    {
        DateTimeOffset now = this.timeProvider.GetUtcNow();
        lock (this.gate)
        {
            for (int i = 0; i < this.keys.Length; i++)
            {
                if (this.coolingDownUntil[i] is not { } until || until <= now)
                {
                    this.coolingDownUntil[i] = null;
                    index = i;
                    return true;
                }
            }
        }

        index = -1;
        return false;
    }

    /// <summary>Takes the key out of rotation for the cooldown of the failure's kind; other kinds leave it alone.</summary>
    public void ReportFailure(int index, ProviderException failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        TimeSpan? rest = failure.Kind switch
        {
            ProviderFailureKind.Authentication => this.cooldowns.Authentication,
            ProviderFailureKind.Billing => this.cooldowns.Billing,
            ProviderFailureKind.RateLimited => failure.RetryAfter ?? this.cooldowns.RateLimit,
            _ => null,
        };
        if (rest is not { } duration)
        {
            return;
        }

        DateTimeOffset until = this.timeProvider.GetUtcNow() + duration;
        lock (this.gate)
        {
            if (this.coolingDownUntil[index] is not { } current || current < until)
            {
                this.coolingDownUntil[index] = until;
            }

            this.lastFailure[index] = failure.Kind;
        }
    }

    /// <summary>
    /// When every key is cooling down: the kind to report (<see cref="ProviderFailureKind.RateLimited"/> if any key only
    /// rests for a rate limit, else the kind of the key that comes back first) and how long until it does.
    /// </summary>
    public (ProviderFailureKind Kind, TimeSpan Wait) Exhaustion()
    {
        DateTimeOffset now = this.timeProvider.GetUtcNow();
        lock (this.gate)
        {
            int[] order = Enumerable.Range(0, this.keys.Length)
                .Where(i => this.coolingDownUntil[i] is { } until && until > now)
                .OrderBy(i => this.coolingDownUntil[i])
                .ToArray();
            if (order.Length == 0)
            {
                return (ProviderFailureKind.Transient, TimeSpan.Zero);
            }

            int rateLimited = order.Where(i => this.lastFailure[i] == ProviderFailureKind.RateLimited).DefaultIfEmpty(-1).First();
            int chosen = rateLimited >= 0 ? rateLimited : order[0];
            return (this.lastFailure[chosen] ?? ProviderFailureKind.RateLimited, this.coolingDownUntil[chosen]!.Value - now);
        }
    }

    /// <summary>Every key's state, in configured order.</summary>
    public IReadOnlyList<ApiKeyState> Snapshot()
    {
        DateTimeOffset now = this.timeProvider.GetUtcNow();
        lock (this.gate)
        {
            return Enumerable.Range(0, this.keys.Length)
                .Select(i => new ApiKeyState(
                    i,
                    "…" + (this.keys[i].Length > 4 ? this.keys[i][^4..] : string.Empty),
                    this.coolingDownUntil[i] is { } until && until > now ? until : null,
                    this.lastFailure[i]))
                .ToList();
        }
    }
}
