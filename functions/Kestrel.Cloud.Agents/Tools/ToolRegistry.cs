using System.Text.Json;
using System.Text.RegularExpressions;
using Kestrel.Cloud.Agents.Policy;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools;

/// <summary>
/// The tools this host offers, by name: fixed tools given at construction plus the current tools of every
/// <see cref="IToolSource"/> (MCP servers). Selects an agent's tools from its <c>tools:</c> patterns and runs a call
/// with the agent's tool timeout, turning failures into tool errors and capping every result
/// (<see cref="ToolRegistryOptions.MaxResultSizeBytes"/>).
/// </summary>
public sealed partial class ToolRegistry
{
    private readonly Dictionary<string, IAgentTool> byName = new(StringComparer.Ordinal);
    private readonly List<IAgentTool> tools = new();
    private readonly IToolSource[] sources;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> skippedLogged = new(StringComparer.Ordinal);
    private readonly ToolRegistryOptions options;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;

    /// <summary>Creates the registry; tool names must be valid and unique, and options valid.</summary>
    public ToolRegistry(IEnumerable<IAgentTool> tools, IOptions<ToolRegistryOptions>? options = null, TimeProvider? timeProvider = null, ILogger<ToolRegistry>? logger = null)
        : this(tools, Array.Empty<IToolSource>(), options, timeProvider, logger)
    {
    }

    /// <summary>
    /// Creates the registry with fixed <paramref name="tools"/> (names must be valid and unique) and
    /// <paramref name="sources"/> whose tools are read each time tools are listed or looked up. A source tool whose
    /// name is invalid or already taken (by a fixed tool or an earlier source) is skipped and logged.
    /// </summary>
    public ToolRegistry(IEnumerable<IAgentTool> tools, IEnumerable<IToolSource> sources, IOptions<ToolRegistryOptions>? options = null, TimeProvider? timeProvider = null, ILogger<ToolRegistry>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentNullException.ThrowIfNull(sources);
        this.sources = sources.ToArray();
        this.options = options?.Value ?? new ToolRegistryOptions();
        this.options.Validate();
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        foreach (IAgentTool tool in tools)
        {
            if (!ValidName().IsMatch(tool.Name ?? string.Empty))
            {
                throw new ArgumentException($"The tool name '{tool.Name}' is not valid: use 1-64 letters, digits, '_' or '-' (what model providers accept).", nameof(tools));
            }

            if (!this.byName.TryAdd(tool.Name!, tool))
            {
                throw new ArgumentException($"Two tools are named '{tool.Name}'; tool names must be unique.", nameof(tools));
            }

            this.tools.Add(tool);
        }
    }

    /// <summary>Every tool: the fixed tools in registration order, then each source's current tools.</summary>
    public IReadOnlyList<IAgentTool> Tools => this.sources.Length == 0 ? this.tools : this.Snapshot();

    /// <summary>The options in force.</summary>
    public ToolRegistryOptions Options => this.options;

    /// <summary>Finds a tool by its exact name.</summary>
    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IAgentTool? tool)
    {
        if (this.byName.TryGetValue(name, out tool))
        {
            return true;
        }

        tool = this.sources.Length == 0 ? null : this.Snapshot().FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.Ordinal));
        return tool is not null;
    }

    /// <summary>The tools matching any of <paramref name="patterns"/> (an agent's <c>tools:</c> list), in registration order.</summary>
    public IReadOnlyList<IAgentTool> Select(IEnumerable<ToolPattern> patterns)
    {
        ToolPattern[] list = patterns.ToArray();
        return this.Tools.Where(t => list.Any(p => p.Matches(t.Name, t.McpServer, t.McpToolName))).ToList();
    }

    /// <summary>
    /// Runs one call: at most <paramref name="timeout"/> (measured on the injected <see cref="TimeProvider"/>),
    /// <see cref="ToolException"/> messages become tool errors, other exceptions a generic error with an id that
    /// is logged, and the result is capped. Cancellation of <paramref name="cancellationToken"/> is rethrown.
    /// </summary>
    public async Task<ToolResult> InvokeAsync(IAgentTool tool, JsonElement arguments, ToolInvocationContext context, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tool);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);

        using var timeoutSource = new CancellationTokenSource(timeout, this.timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        ToolResult result;
        try
        {
            // WaitAsync bounds tools that ignore their token; the call itself is told to stop through the token.
            result = await tool.InvokeAsync(arguments, context, linked.Token).WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            Log.ToolTimedOut(this.logger, tool.Name, context.AgentName, context.CallId, timeout);
            result = ToolResult.Error($"The tool {tool.Name} did not finish within {Durations.Format(timeout)} and was stopped.");
        }
        catch (ToolException ex)
        {
            result = ToolResult.Error(ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            string errorId = Guid.NewGuid().ToString("N")[..12];
            Log.ToolFailed(this.logger, tool.Name, context.AgentName, context.CallId, errorId, ex);
            result = ToolResult.Error($"The tool {tool.Name} failed with an internal error (error id {errorId}); the details are in the server log.");
        }

        return ToolOutput.Limit(result, this.options.MaxResultSizeBytes);
    }

    private List<IAgentTool> Snapshot()
    {
        var all = new List<IAgentTool>(this.tools);
        var names = new HashSet<string>(this.byName.Keys, StringComparer.Ordinal);
        foreach (IToolSource source in this.sources)
        {
            foreach (IAgentTool tool in source.GetTools())
            {
                if (!ValidName().IsMatch(tool.Name ?? string.Empty))
                {
                    this.LogSkippedOnce(tool.Name ?? string.Empty, "its name is not 1-64 letters, digits, '_' or '-'");
                }
                else if (!names.Add(tool.Name!))
                {
                    this.LogSkippedOnce(tool.Name!, "another tool already has that name");
                }
                else
                {
                    all.Add(tool);
                }
            }
        }

        return all;
    }

    private void LogSkippedOnce(string name, string reason)
    {
        if (this.skippedLogged.TryAdd(name, 0))
        {
            Log.SourceToolSkipped(this.logger, name, reason);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ValidName();
}
