namespace Kestrel.Cloud.Testing;

/// <summary>
/// A clock that moves only when told (<see cref="Advance"/>, <see cref="SetUtcNow"/>). Timers created on it
/// fire, in due order, during the call that moves the clock past them. Thread-safe.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly object gate = new();
    private readonly List<ManualTimer> timers = new();
    private DateTimeOffset now;

    /// <summary>Starts the clock at <paramref name="start"/> (default 2026-01-01T00:00:00Z).</summary>
    public ManualTimeProvider(DateTimeOffset? start = null)
    {
        this.now = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }

    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow()
    {
        lock (this.gate)
        {
            return this.now;
        }
    }

    /// <inheritdoc/>
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>Timers that are waiting to fire.</summary>
    public int PendingTimerCount
    {
        get
        {
            lock (this.gate)
            {
                return this.timers.Count;
            }
        }
    }

    /// <summary>Moves the clock forward and fires every timer that comes due, earliest first.</summary>
    public void Advance(TimeSpan delta)
    {
        if (delta < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "The clock only moves forward.");
        }

        DateTimeOffset target;
        lock (this.gate)
        {
            target = this.now + delta;
        }

        this.MoveTo(target);
    }

    /// <summary>Sets the clock (forward only) and fires due timers.</summary>
    public void SetUtcNow(DateTimeOffset value) => this.MoveTo(value);

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private void MoveTo(DateTimeOffset target)
    {
        while (true)
        {
            ManualTimer? next;
            lock (this.gate)
            {
                next = this.timers.Where(t => t.DueAt <= target).OrderBy(t => t.DueAt).FirstOrDefault();
                if (next is null)
                {
                    if (target > this.now)
                    {
                        this.now = target;
                    }

                    return;
                }

                if (next.DueAt > this.now)
                {
                    this.now = next.DueAt;
                }

                if (next.Period is { } p && p > TimeSpan.Zero)
                {
                    next.DueAt += p;
                }
                else
                {
                    this.timers.Remove(next);
                }
            }

            next.Fire();
        }
    }

    private sealed class ManualTimer : ITimer
    {
        private readonly ManualTimeProvider owner;
        private readonly TimerCallback callback;
        private readonly object? state;

        public ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state)
        {
            this.owner = owner;
            this.callback = callback;
            this.state = state;
        }

        public DateTimeOffset DueAt { get; set; }

        public TimeSpan? Period { get; private set; }

        public void Fire() => this.callback(this.state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (this.owner.gate)
            {
                this.owner.timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan)
                {
                    return true;
                }

                this.DueAt = this.owner.now + dueTime;
                this.Period = period == Timeout.InfiniteTimeSpan ? null : period;
                this.owner.timers.Add(this);
            }

            // A timer due now fires on the next clock move; Task.Delay(0) completes without a timer.
            return true;
        }

        public void Dispose()
        {
            lock (this.owner.gate)
            {
                this.owner.timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            this.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
