namespace Kestrel.Cloud.Agents.Tools.Http;

/// <summary>Limits of <c>http_fetch</c> (configuration section <c>KestrelCloud:Tools:HttpFetch</c>).</summary>
public sealed class HttpFetchOptions
{
    /// <summary>
    /// Hosts the SSRF guard lets through even when they resolve to blocked addresses: <c>host</c> (any port) or
    /// <c>host:port</c>, compared case-insensitively with the URL's host (IPv6 in brackets: <c>[::1]:8080</c>).
    /// Cloud metadata endpoints stay blocked even when listed.
    /// </summary>
    /// <value>The default value is empty: only public addresses can be fetched.</value>
    public IList<string> AllowedHosts { get; set; } = new List<string>();

    /// <summary>How many redirects are followed; each hop is checked again by the SSRF guard.</summary>
    /// <value>The default value is 5.</value>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>The most bytes of a response body read; the rest is not downloaded and the result says it was cut.</summary>
    /// <value>The default value is 1,048,576 (1 MiB).</value>
    public int MaxResponseSizeBytes { get; set; } = 1_048_576;

    /// <summary>The largest request body the model may send with POST, in bytes.</summary>
    /// <value>The default value is 262,144 (256 KiB).</value>
    public int MaxRequestBodySizeBytes { get; set; } = 262_144;

    /// <summary>How long one fetch may take in total: resolving, connecting, every redirect and reading the body.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The User-Agent header sent.</summary>
    /// <value>The default value is "Kestrel.Cloud-http_fetch/1.0".</value>
    public string UserAgent { get; set; } = "Kestrel.Cloud-http_fetch/1.0";

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (this.MaxRedirects < 0 || this.MaxRedirects > 20)
        {
            errors.Add($"The value for MaxRedirects must be between 0 and 20; it is {this.MaxRedirects}.");
        }

        if (this.MaxResponseSizeBytes < 1)
        {
            errors.Add($"The value for MaxResponseSizeBytes must be at least 1; it is {this.MaxResponseSizeBytes}.");
        }

        if (this.MaxRequestBodySizeBytes < 0)
        {
            errors.Add($"The value for MaxRequestBodySizeBytes must be at least 0; it is {this.MaxRequestBodySizeBytes}.");
        }

        if (this.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"The value for Timeout must be greater than zero; it is {this.Timeout}.");
        }

        if (string.IsNullOrWhiteSpace(this.UserAgent))
        {
            errors.Add("The value for UserAgent must not be empty.");
        }

        foreach (string entry in this.AllowedHosts ?? new List<string>())
        {
            if (!SsrfGuard.TryParseAllowedHost(entry, out _, out _))
            {
                errors.Add($"The AllowedHosts entry '{entry}' is not valid: write a host name or IP address, optionally with ':port' (IPv6 in brackets, e.g. '[::1]:8080').");
            }
        }

        OptionsErrors.ThrowIfAny(nameof(HttpFetchOptions), errors);
    }
}
