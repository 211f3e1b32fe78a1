namespace Kestrel.Cloud.Agents.Providers.Resilience;

/// <summary>How long a failing API key is left out of rotation, per failure kind (section <c>KestrelCloud:Models:KeyCooldown</c>).</summary>
public sealed class ApiKeyCooldownOptions
{
    /// <summary>After 401 or 403: the key is wrong, revoked or lacks permission.</summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan Authentication { get; set; } = TimeSpan.FromHours(1);

    /// <summary>After a billing or quota failure (402, <c>insufficient_quota</c>, <c>billing_error</c>).</summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan Billing { get; set; } = TimeSpan.FromHours(1);

    /// <summary>After a 429 without Retry-After; with one, the key rests exactly that long.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan RateLimit { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        Check(errors, nameof(this.Authentication), this.Authentication);
        Check(errors, nameof(this.Billing), this.Billing);
        Check(errors, nameof(this.RateLimit), this.RateLimit);
        OptionsErrors.ThrowIfAny(nameof(ApiKeyCooldownOptions), errors);
    }

    private static void Check(List<string> errors, string name, TimeSpan value)
    {
        if (value < TimeSpan.Zero || value > TimeSpan.FromDays(7))
        {
            errors.Add($"The value for {name} must be between 0 and 7 days; it is {value}.");
        }
    }
}
