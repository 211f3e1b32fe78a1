namespace Kestrel.Cloud.Durable;

/// <summary>
/// How an activity or sub-orchestration call is retried. Delays between attempts are durable timers,
/// so a retry waiting for minutes costs no memory and survives restarts.
/// </summary>
public sealed class RetryPolicy
{
    /// <summary>Creates a retry policy.</summary>
    /// <param name="maxNumberOfAttempts">Total attempts including the first; must be at least 1.</param>
    /// <param name="firstRetryInterval">Delay before the second attempt; must be greater than zero.</param>
    /// <param name="backoffCoefficient">Multiplier applied to the delay after each attempt; must be at least 1. The default value is 1.</param>
    /// <param name="maxRetryInterval">Upper bound for one delay. The default value is one hour.</param>
    /// <param name="retryTimeout">Upper bound for all attempts together, measured from the first attempt. The default value is infinite.</param>
    public RetryPolicy(
        int maxNumberOfAttempts,
        TimeSpan firstRetryInterval,
        double backoffCoefficient = 1.0,
        TimeSpan? maxRetryInterval = null,
        TimeSpan? retryTimeout = null)
    {
        if (maxNumberOfAttempts <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNumberOfAttempts), maxNumberOfAttempts, "The value for maxNumberOfAttempts must be greater than zero.");
        }

        if (firstRetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(firstRetryInterval), firstRetryInterval, "The value for firstRetryInterval must be greater than zero.");
        }

        if (backoffCoefficient < 1.0 || double.IsNaN(backoffCoefficient))
        {
            throw new ArgumentOutOfRangeException(nameof(backoffCoefficient), backoffCoefficient, "The value for backoffCoefficient must be greater than or equal to 1.0.");
        }

        if (maxRetryInterval is { } max && max < firstRetryInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(maxRetryInterval), max, "The value for maxRetryInterval must be greater than or equal to firstRetryInterval.");
        }

        if (retryTimeout is { } timeout && timeout < firstRetryInterval && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(retryTimeout), timeout, "The value for retryTimeout must be greater than or equal to firstRetryInterval.");
        }

        this.MaxNumberOfAttempts = maxNumberOfAttempts;
        this.FirstRetryInterval = firstRetryInterval;
        this.BackoffCoefficient = backoffCoefficient;
        this.MaxRetryInterval = maxRetryInterval ?? TimeSpan.FromHours(1);
        this.RetryTimeout = retryTimeout ?? Timeout.InfiniteTimeSpan;
    }

    /// <summary>Total attempts including the first.</summary>
    public int MaxNumberOfAttempts { get; }

    /// <summary>Delay before the second attempt.</summary>
    public TimeSpan FirstRetryInterval { get; }

    /// <summary>Multiplier applied to the delay after each attempt.</summary>
    public double BackoffCoefficient { get; }

    /// <summary>Upper bound for one delay.</summary>
    public TimeSpan MaxRetryInterval { get; }

    /// <summary>Upper bound for all attempts together; <see cref="Timeout.InfiniteTimeSpan"/> for none.</summary>
    public TimeSpan RetryTimeout { get; }

    /// <summary>Optional filter: return false to stop retrying for this failure. The default retries every failure.</summary>
    public Func<TaskFailureDetails, bool>? HandleFailure { get; init; }

    /// <summary>The delay before attempt <paramref name="nextAttempt"/> (2 for the first retry).</summary>
    public TimeSpan GetDelayBeforeAttempt(int nextAttempt)
    {
        double factor = Math.Pow(this.BackoffCoefficient, Math.Max(0, nextAttempt - 2));
        double ticks = this.FirstRetryInterval.Ticks * factor;
        return ticks >= this.MaxRetryInterval.Ticks ? this.MaxRetryInterval : TimeSpan.FromTicks((long)ticks);
    }
}

/// <summary>Options for one activity or sub-orchestration call.</summary>
public class TaskOptions
{
    /// <summary>Creates options with an optional retry policy.</summary>
    public TaskOptions(RetryPolicy? retry = null)
    {
        this.Retry = retry;
    }

    /// <summary>The retry policy, or null for a single attempt.</summary>
    public RetryPolicy? Retry { get; init; }

    /// <summary>Shorthand for <c>new TaskOptions(policy)</c>.</summary>
    public static TaskOptions FromRetryPolicy(RetryPolicy policy) => new(policy);
}

/// <summary>Options for a sub-orchestration call.</summary>
public sealed class SubOrchestrationOptions : TaskOptions
{
    /// <summary>Creates options.</summary>
    public SubOrchestrationOptions(RetryPolicy? retry = null, string? instanceId = null)
        : base(retry)
    {
        this.InstanceId = instanceId;
    }

    /// <summary>The instance id of the sub-orchestration; a deterministic new id when null.</summary>
    public string? InstanceId { get; init; }
}

/// <summary>Options for starting a new orchestration instance.</summary>
public sealed record StartOrchestrationOptions(string? InstanceId = null, DateTimeOffset? StartAt = null);
