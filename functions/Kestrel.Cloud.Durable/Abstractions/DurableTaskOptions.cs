namespace Kestrel.Cloud.Durable;

/// <summary>
/// Limits and tuning for the engine (configuration section <c>KestrelCloud:Durable</c>). Validated once
/// when the worker is built; all errors are reported together.
/// </summary>
public sealed class DurableTaskOptions
{
    /// <summary>Largest input, output, event payload or activity result, in UTF-8 bytes of JSON.</summary>
    /// <value>The default value is 1,048,576 (1 MiB).</value>
    public int MaxPayloadSizeBytes { get; set; } = 1_048_576;

    /// <summary>Largest custom status, in UTF-8 bytes of JSON.</summary>
    /// <value>The default value is 16,384 (16 KiB).</value>
    public int MaxCustomStatusSizeBytes { get; set; } = 16_384;

    /// <summary>Most history events one execution may have; past it the instance fails with advice to use ContinueAsNew.</summary>
    /// <value>The default value is 50,000.</value>
    public int MaxHistoryEventsPerInstance { get; set; } = 50_000;

    /// <summary>Most orchestration steps a worker runs at once.</summary>
    /// <value>The default value is 4 × processor count.</value>
    public int MaxConcurrentOrchestrationWorkItems { get; set; } = 4 * Environment.ProcessorCount;

    /// <summary>Most activities a worker runs at once.</summary>
    /// <value>The default value is 16 × processor count.</value>
    public int MaxConcurrentActivityWorkItems { get; set; } = 16 * Environment.ProcessorCount;

    /// <summary>
    /// How many fetches of each kind of work a worker runs at once. 1 suits the in-process stores, whose fetch is a
    /// local read; a store whose fetch is several network round trips (Azure Storage: receive, read, lock) keeps more
    /// work items going with more, up to the concurrency limits above.
    /// </summary>
    /// <value>The default value is 1.</value>
    public int FetchConcurrency { get; set; } = 1;

    /// <summary>How long a worker holds an instance while it runs a step; a crashed worker's lock expires after this.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan OrchestrationLockDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a worker holds an activity; renewed while the activity runs. A crashed worker's activity is re-run after this.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan ActivityLockDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait between polls for work produced by another process (work produced in this process is signalled).</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>First wait between polls after the store ran dry; doubles up to <see cref="MaxPollInterval"/>.</summary>
    /// <value>The default value is 20 milliseconds.</value>
    public TimeSpan MinPollInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Most orchestrations kept replayed in memory between steps (0 turns the replay cache off).</summary>
    /// <value>The default value is 1,000.</value>
    public int MaxCachedOrchestrations { get; set; } = 1_000;

    /// <summary>How long shutdown waits for running work before releasing it to be redelivered.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most times an orchestration work item is retried after the engine itself failed to run it
    /// (store errors, lost locks); past it the instance fails with the last error.</summary>
    /// <value>The default value is 10.</value>
    public int MaxOrchestrationDeliveryAttempts { get; set; } = 10;

    /// <summary>The converter for inputs, outputs and payloads.</summary>
    /// <value>The default value is <see cref="JsonDataConverter.Default"/>.</value>
    public DataConverter DataConverter { get; set; } = JsonDataConverter.Default;

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        void Positive(int value, string name, int min = 1)
        {
            if (value < min)
            {
                errors.Add($"The value for {name} must be at least {min}; it is {value}.");
            }
        }

        void PositiveTime(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"The value for {name} must be greater than zero; it is {value}.");
            }
        }

        Positive(this.MaxPayloadSizeBytes, nameof(this.MaxPayloadSizeBytes), 1024);
        Positive(this.MaxCustomStatusSizeBytes, nameof(this.MaxCustomStatusSizeBytes), 64);
        Positive(this.MaxHistoryEventsPerInstance, nameof(this.MaxHistoryEventsPerInstance), 10);
        Positive(this.MaxConcurrentOrchestrationWorkItems, nameof(this.MaxConcurrentOrchestrationWorkItems));
        Positive(this.MaxConcurrentActivityWorkItems, nameof(this.MaxConcurrentActivityWorkItems));
        Positive(this.MaxCachedOrchestrations, nameof(this.MaxCachedOrchestrations), 0);
        Positive(this.FetchConcurrency, nameof(this.FetchConcurrency));
        if (this.FetchConcurrency > 64)
        {
            errors.Add($"The value for FetchConcurrency must be at most 64; it is {this.FetchConcurrency}.");
        }

        Positive(this.MaxOrchestrationDeliveryAttempts, nameof(this.MaxOrchestrationDeliveryAttempts));
        PositiveTime(this.OrchestrationLockDuration, nameof(this.OrchestrationLockDuration));
        PositiveTime(this.ActivityLockDuration, nameof(this.ActivityLockDuration));
        PositiveTime(this.MaxPollInterval, nameof(this.MaxPollInterval));
        PositiveTime(this.MinPollInterval, nameof(this.MinPollInterval));
        PositiveTime(this.ShutdownTimeout, nameof(this.ShutdownTimeout));
        if (this.MinPollInterval > this.MaxPollInterval)
        {
            errors.Add($"The value for MinPollInterval ({this.MinPollInterval}) must not exceed MaxPollInterval ({this.MaxPollInterval}).");
        }

        if (this.DataConverter is null)
        {
            errors.Add("The value for DataConverter must not be null.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid DurableTaskOptions: " + string.Join(" ", errors));
        }
    }
}
