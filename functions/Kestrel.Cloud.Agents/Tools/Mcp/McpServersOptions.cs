using System.Text.RegularExpressions;

namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// MCP servers whose tools are offered to agents (configuration section <c>KestrelCloud:Mcp</c>). Each entry of
/// <see cref="Servers"/> is one server, keyed by its name (<c>KestrelCloud:Mcp:Servers:&lt;name&gt;</c>).
/// </summary>
public sealed partial class McpServersOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "KestrelCloud:Mcp";

    /// <summary>The longest server name, in characters.</summary>
    public const int MaxServerNameLength = 32;

    /// <summary>The servers, by name: 1-32 lowercase letters, digits and '-', starting with a letter or digit.</summary>
    /// <value>The default value is no servers.</value>
    public IDictionary<string, McpServerOptions> Servers { get; set; } = new Dictionary<string, McpServerOptions>(StringComparer.Ordinal);

    /// <summary>
    /// Variables of the host's environment passed on to stdio servers (when set); every other variable, API keys and
    /// <c>KestrelCloud__*</c> settings among them, is removed. A server's own <see cref="McpServerOptions.Env"/> is added on top.
    /// </summary>
    /// <value>The default value is PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_ALL, TZ, TERM, TMPDIR, and on Windows also SYSTEMROOT, SYSTEMDRIVE, WINDIR, COMSPEC, PATHEXT, TEMP, TMP, USERPROFILE, APPDATA, LOCALAPPDATA, PROGRAMFILES.</value>
    public IList<string> PassEnvironmentVariables { get; set; } = new List<string>
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TERM", "TMPDIR",
        "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "TEMP", "TMP", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "PROGRAMFILES",
    };

    /// <summary>The most UTF-8 bytes of one MCP tool result kept; longer results are cut with a note (the tool registry's own cap applies too).</summary>
    /// <value>The default value is 65,536 (64 KiB).</value>
    public int MaxResultSizeBytes { get; set; } = 65_536;

    /// <summary>How long host start-up waits for the servers to connect; servers still connecting after that go on in the background.</summary>
    /// <value>The default value is 10 seconds. Zero means start-up does not wait.</value>
    public TimeSpan StartupWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>After a failed connection attempt, how long calls answer at once with the failure before a new attempt is made.</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value, each naming its configuration key.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        string prefix = SectionName + ":";
        if (this.Servers is null)
        {
            errors.Add($"{prefix}Servers must not be null.");
        }
        else
        {
            foreach ((string name, McpServerOptions server) in this.Servers)
            {
                string key = $"{prefix}Servers:{name}";
                if (!ServerName().IsMatch(name ?? string.Empty))
                {
                    errors.Add($"{key}: '{name}' is not a valid MCP server name; use 1-{MaxServerNameLength} lowercase letters, digits and '-', starting with a letter or digit (for example 'github'). The name prefixes the server's tools (<server>__<tool>) and appears in policy patterns (mcp:<server>/<tool>).");
                }

                if (server is null)
                {
                    errors.Add($"{key}: the server has no settings; set Command (a stdio server) or Url (a streamable HTTP server).");
                    continue;
                }

                server.Validate(key, errors);
            }
        }

        if (this.PassEnvironmentVariables is null || this.PassEnvironmentVariables.Any(n => !McpServerOptions.IsValidEnvironmentName(n)))
        {
            errors.Add($"{prefix}PassEnvironmentVariables must list variable names (not empty, without '=' or NUL).");
        }

        if (this.MaxResultSizeBytes < 1024 || this.MaxResultSizeBytes > 16_777_216)
        {
            errors.Add($"{prefix}MaxResultSizeBytes must be between 1024 and 16777216; it is {this.MaxResultSizeBytes}.");
        }

        if (this.StartupWait < TimeSpan.Zero || this.StartupWait > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{prefix}StartupWait must be between 0 and 5 minutes; it is {this.StartupWait}.");
        }

        if (this.ReconnectDelay < TimeSpan.Zero || this.ReconnectDelay > TimeSpan.FromHours(1))
        {
            errors.Add($"{prefix}ReconnectDelay must be between 0 and 1 hour; it is {this.ReconnectDelay}.");
        }

        OptionsErrors.ThrowIfAny(nameof(McpServersOptions), errors);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,31}$")]
    private static partial Regex ServerName();
}
