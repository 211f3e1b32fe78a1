namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// The environment a stdio MCP server starts with: only the allowlisted variables of the host
/// (<see cref="McpServersOptions.PassEnvironmentVariables"/>) plus the server's own <see cref="McpServerOptions.Env"/>.
/// Everything else the host holds (API keys, connection strings, <c>KestrelCloud__*</c> settings) stays out, so a
/// third-party server never sees our secrets.
/// </summary>
public static class McpServerEnvironment
{
    /// <summary>Builds the child environment. <paramref name="readHostVariable"/> reads the host's environment (default: the real one).</summary>
    public static IReadOnlyDictionary<string, string> Build(McpServerOptions server, McpServersOptions options, Func<string, string?>? readHostVariable = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(options);
        readHostVariable ??= Environment.GetEnvironmentVariable;
        StringComparer comparer = OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
        var environment = new Dictionary<string, string>(comparer);
        foreach (string name in options.PassEnvironmentVariables)
        {
            if (readHostVariable(name) is { } value && !value.StartsWith("()", StringComparison.Ordinal))
            {
                // Values starting with "()" are exported shell functions (Shellshock); never forward them.
                environment[name] = value;
            }
        }

        foreach ((string name, string value) in server.Env)
        {
            environment[name] = value;
        }

        return environment;
    }
}
