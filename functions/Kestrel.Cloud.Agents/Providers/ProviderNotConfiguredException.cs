namespace Kestrel.Cloud.Agents.Providers;

/// <summary>
/// No model provider (or not the one asked for) is configured. Its message names the environment variables or
/// configuration keys that fix it; the HTTP layer answers 503 with it.
/// </summary>
public sealed class ProviderNotConfiguredException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ProviderNotConfiguredException(string message, string? providerName, IReadOnlyList<string> environmentVariables)
        : base(message)
    {
        this.ProviderName = providerName;
        this.EnvironmentVariables = environmentVariables;
    }

    /// <summary>The provider that was asked for; null when none was named and none is configured.</summary>
    public string? ProviderName { get; }

    /// <summary>The environment variables that would configure it, for example <c>OPENAI_API_KEY</c>.</summary>
    public IReadOnlyList<string> EnvironmentVariables { get; }
}
