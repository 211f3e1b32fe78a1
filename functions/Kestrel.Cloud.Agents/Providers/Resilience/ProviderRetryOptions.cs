namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>How <see cref="RetryingChatClient"/> retries (configuration section <c>KestrelCloud:Models:Retry</c>).</summary>
public sealed class ProviderRetryOptions
{
    /// <summary>Retries after the first attempt, for rate limits, transient server errors and timeouts.</summary>
    /// <value>The default value is 3.</value>
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>The first backoff delay when the provider sent no Retry-After; it doubles per retry (exponential).</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest computed backoff delay.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether computed backoff delays are randomised (decorrelated jitter) so clients do not retry in step. Retry-After delays are used exactly.</summary>
    /// <value>The default value is true.</value>
    public bool UseJitter { get; set; } = true;

    /// <summary>The longest Retry-After honoured; a provider asking to wait longer is not retried (key rotation and fallback models take over).</summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one attempt may take: the whole response, or until the first streamed update. A timed-out attempt is retried.</summary>
    /// <value>The default value is 120 seconds.</value>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Where jitter draws from (values in [0, 1)); set a seeded source to make delays reproducible.</summary>
    /// <value>The default value is null: Polly's shared random source.</value>
    public Func<double>? Randomizer { get; set; }

    /// <summary>Called before each retry with the failure, the delay about to be waited and the retry number (1-based).</summary>
    /// <value>The default value is null.</value>
    public Action<ProviderException, TimeSpan, int>? OnRetry { get; set; }

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (this.MaxRetryAttempts < 0 || this.MaxRetryAttempts > 20)
        {
            errors.Add($"The value for MaxRetryAttempts must be between 0 and 20; it is {this.MaxRetryAttempts}.");
        }

        if (this.BaseDelay <= TimeSpan.Zero || this.BaseDelay > TimeSpan.FromHours(1))
        {
            errors.Add($"The value for BaseDelay must be greater than zero and at most 1 hour; it is {this.BaseDelay}.");
        }

        if (this.MaxDelay < this.BaseDelay || this.MaxDelay > TimeSpan.FromHours(1))
        {
            errors.Add($"The value for MaxDelay must be at least BaseDelay and at most 1 hour; it is {this.MaxDelay}.");
        }

        if (this.MaxRetryAfter < TimeSpan.Zero || this.MaxRetryAfter > TimeSpan.FromHours(1))
        {
            errors.Add($"The value for MaxRetryAfter must be between 0 and 1 hour; it is {this.MaxRetryAfter}.");
        }

        if (this.AttemptTimeout <= TimeSpan.Zero || this.AttemptTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"The value for AttemptTimeout must be greater than zero and at most 1 hour; it is {this.AttemptTimeout}.");
        }

        OptionsErrors.ThrowIfAny(nameof(ProviderRetryOptions), errors);
    }
}
