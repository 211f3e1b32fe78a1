namespace Kestrel.Cloud.Agents.Tools;

/// <summary>
/// Tools that come and go while the host runs (the tools of connected MCP servers). <see cref="ToolRegistry"/> asks
/// every source for its current tools whenever it lists or looks up tools, so a server that connects late, drops or
/// changes its tool list is reflected without restarting the host.
/// </summary>
public interface IToolSource
{
    /// <summary>
    /// The tools offered right now. Must be cheap and must not block or do I/O (return a snapshot kept up to date in
    /// the background). Names follow the <see cref="IAgentTool.Name"/> rules; a tool whose name is invalid or already
    /// taken is skipped by the registry (and logged), so one source cannot shadow a built-in tool.
    /// </summary>
    IReadOnlyList<IAgentTool> GetTools();
}
