namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// One MCP server (<c>KestrelCloud:Mcp:Servers:&lt;name&gt;</c>): either a child process spoken to over stdio
/// (<see cref="Command"/>) or a streamable HTTP endpoint (<see cref="Url"/>), never both.
/// </summary>
public sealed class McpServerOptions
{
    /// <summary>The program that runs a stdio server (for example <c>npx</c> or <c>node</c>); looked up on PATH when not a path.</summary>
    /// <value>The default value is null.</value>
    public string? Command { get; set; }

    /// <summary>The program's arguments, passed as they are (no shell).</summary>
    /// <value>The default value is no arguments.</value>
    public IList<string> Args { get; set; } = new List<string>();

    /// <summary>Environment variables set for the stdio server, on top of the scrubbed host environment (see <see cref="McpServersOptions.PassEnvironmentVariables"/>).</summary>
    /// <value>The default value is none.</value>
    public IDictionary<string, string> Env { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The stdio server's working folder.</summary>
    /// <value>The default value is null: the host's current folder.</value>
    public string? WorkingDirectory { get; set; }

    /// <summary>The endpoint of a streamable HTTP server (<c>http</c> or <c>https</c>, absolute).</summary>
    /// <value>The default value is null.</value>
    public string? Url { get; set; }

    /// <summary>HTTP headers sent with every request to <see cref="Url"/> (for example <c>Authorization</c>).</summary>
    /// <value>The default value is none.</value>
    public IDictionary<string, string> Headers { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>How long starting (or reaching) the server and the MCP handshake with tool listing may take.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one tool call may take on this server (the agent's <c>tool_timeout</c> applies too; the shorter wins).</summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Whether the server is used; a disabled server is not started and offers no tools.</summary>
    /// <value>The default value is true.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>True when this is a stdio server (<see cref="Command"/> is set).</summary>
    public bool IsStdio => !string.IsNullOrWhiteSpace(this.Command);

    internal static bool IsValidEnvironmentName(string? name) =>
        !string.IsNullOrEmpty(name) && !name.Contains('=', StringComparison.Ordinal) && !name.Contains('\0', StringComparison.Ordinal);

    internal void Validate(string key, List<string> errors)
    {
        bool hasCommand = !string.IsNullOrWhiteSpace(this.Command);
        bool hasUrl = !string.IsNullOrWhiteSpace(this.Url);
        if (hasCommand == hasUrl)
        {
            errors.Add(hasCommand
                ? $"{key}: set either Command (a stdio server) or Url (a streamable HTTP server), not both."
                : $"{key}: set Command (a stdio server, e.g. \"npx\") or Url (a streamable HTTP server, e.g. \"https://example.com/mcp\").");
        }

        if (hasUrl)
        {
            if (!Uri.TryCreate(this.Url, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"{key}:Url must be an absolute http or https URL; it is '{this.Url}'.");
            }

            if (this.Args is { Count: > 0 } || this.Env is { Count: > 0 } || !string.IsNullOrEmpty(this.WorkingDirectory))
            {
                errors.Add($"{key}: Args, Env and WorkingDirectory apply only to stdio servers (Command); remove them or use Command instead of Url.");
            }
        }

        if (hasCommand && this.Headers is { Count: > 0 })
        {
            errors.Add($"{key}:Headers apply only to HTTP servers (Url); pass settings to a stdio server with Env or Args.");
        }

        if (this.Args is null || this.Args.Any(a => a is null || a.Contains('\0', StringComparison.Ordinal)))
        {
            errors.Add($"{key}:Args must not contain null values or NUL characters.");
        }

        if (this.Env is null || this.Env.Any(e => !IsValidEnvironmentName(e.Key) || e.Value is null || e.Value.Contains('\0', StringComparison.Ordinal)))
        {
            errors.Add($"{key}:Env names must not be empty or contain '=' or NUL, and every value must be set.");
        }

        if (this.Headers is null || this.Headers.Any(h => string.IsNullOrWhiteSpace(h.Key) || h.Value is null || h.Value.Contains('\r', StringComparison.Ordinal) || h.Value.Contains('\n', StringComparison.Ordinal)))
        {
            errors.Add($"{key}:Headers names must not be empty and values must be set, on one line.");
        }

        if (this.ConnectTimeout < TimeSpan.FromSeconds(1) || this.ConnectTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{key}:ConnectTimeout must be between 1 second and 10 minutes; it is {this.ConnectTimeout}.");
        }

        if (this.CallTimeout < TimeSpan.FromSeconds(1) || this.CallTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"{key}:CallTimeout must be between 1 second and 1 hour; it is {this.CallTimeout}.");
        }
    }
}
