using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Mcp;
using Kestrel.Cloud.Testing.Node;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>The real MCP reference servers from the repository's package.json, run with node.</summary>
internal static class McpTestServers
{
    /// <summary>Bound on every await against a real server, so a hang fails the test instead of blocking the run.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static readonly ToolInvocationContext Context = new("bot", Path.GetTempPath(), "run-1", "call-1");

    public static Task<string> EverythingScriptAsync() =>
        NodePackages.ResolveBinAsync("@modelcontextprotocol/server-everything").WaitAsync(NodePackages.InstallTimeout);

    public static Task<string> FilesystemScriptAsync() =>
        NodePackages.ResolveBinAsync("@modelcontextprotocol/server-filesystem").WaitAsync(NodePackages.InstallTimeout);

    /// <summary>server-everything over stdio.</summary>
    public static async Task<McpServerOptions> EverythingAsync() =>
        new() { Command = "node", Args = [await EverythingScriptAsync(), "stdio"], ConnectTimeout = Timeout };

    public static McpServersOptions Global(string name, McpServerOptions server, int maxResultSizeBytes = 65_536) =>
        new() { Servers = new Dictionary<string, McpServerOptions> { [name] = server }, MaxResultSizeBytes = maxResultSizeBytes };

    public static McpServerConnection Connection(string name, McpServerOptions server, int maxResultSizeBytes = 65_536, TimeProvider? timeProvider = null)
    {
        McpServersOptions global = Global(name, server, maxResultSizeBytes);
        global.Validate();
        return new McpServerConnection(name, server, global, timeProvider);
    }

    public static McpAgentTool Tool(this McpServerConnection connection, string mcpToolName) =>
        connection.Tools.Single(t => t.McpToolName == mcpToolName);

    public static Task<ToolResult> CallAsync(this McpAgentTool tool, object arguments) =>
        tool.InvokeAsync(Support.Json.Args(arguments), Context, CancellationToken.None).WaitAsync(Timeout);

    /// <summary>True while a process with this id exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        string stat = $"/proc/{pid}/stat";
        if (OperatingSystem.IsLinux())
        {
            try
            {
                string text = File.ReadAllText(stat);
                int close = text.LastIndexOf(')');
                return close > 0 && text.Length > close + 2 && text[close + 2] != 'Z' && text[close + 2] != 'X';
            }
            catch (IOException)
            {
                return false;
            }
        }

        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
