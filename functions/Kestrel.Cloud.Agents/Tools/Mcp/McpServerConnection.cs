using System.ComponentModel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>
/// The connection to one MCP server through the ModelContextProtocol SDK: a child process over stdio
/// (<see cref="StdioClientTransport"/>, environment scrubbed by <see cref="McpServerEnvironment"/>) or a streamable
/// HTTP session (<see cref="HttpClientTransport"/>). It connects when asked (<see cref="ConnectAsync"/>, at start-up)
/// or lazily on the first call, within <see cref="McpServerOptions.ConnectTimeout"/>; it notices a dropped
/// connection and reconnects on the next call (a call in flight when the connection drops is not retried, since it
/// may have run). Failed attempts are not repeated for <see cref="McpServersOptions.ReconnectDelay"/>. Disposing it
/// ends the session, which stops the child process.
/// </summary>
public sealed class McpServerConnection : IAsyncDisposable
{
    private const int StandardErrorTailLines = 20;

    private readonly McpServerOptions options;
    private readonly McpServersOptions global;
    private readonly TimeProvider timeProvider;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly CancellationTokenSource disposing = new();
    private readonly Queue<string> standardError = new();
    private volatile McpClient? client;
    private volatile IReadOnlyList<McpAgentTool> tools = Array.Empty<McpAgentTool>();
    private volatile McpServerStatus status;
    private long lastFailureTicks; // UTC ticks of the last failed attempt; 0 when the last attempt succeeded
    private int disposed;

    /// <summary>Creates the connection (nothing starts until <see cref="ConnectAsync"/> or a call). The options must be valid.</summary>
    public McpServerConnection(string name, McpServerOptions options, McpServersOptions global, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(global);
        this.Name = name;
        this.options = options;
        this.global = global;
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        this.logger = this.loggerFactory.CreateLogger<McpServerConnection>();
        this.status = new McpServerStatus(name, this.Transport, options.Enabled ? McpServerState.Connecting : McpServerState.Disabled, 0, null, this.timeProvider.GetUtcNow());
    }

    /// <summary>The server's configured name.</summary>
    public string Name { get; }

    /// <summary><c>stdio</c> or <c>http</c>.</summary>
    public string Transport => this.options.IsStdio ? "stdio" : "http";

    /// <summary>The server's current state.</summary>
    public McpServerStatus Status => this.status;

    /// <summary>
    /// The server's tools from the last successful listing. They stay offered while the connection is down, so a
    /// call can reconnect; they are empty before the first connection.
    /// </summary>
    public IReadOnlyList<McpAgentTool> Tools => this.tools;

    internal int MaxResultSizeBytes => this.global.MaxResultSizeBytes;

    /// <summary>
    /// Connects if not connected: starts the server (or opens the HTTP session), does the MCP handshake and lists the
    /// tools, all within <see cref="McpServerOptions.ConnectTimeout"/>. Returns false (never throws) when the server
    /// is disabled or the attempt fails; <see cref="Status"/> then says why. Throws only when
    /// <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task<bool> ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref this.disposed) == 1, this);
        if (!this.options.Enabled)
        {
            return false;
        }

        if (this.IsConnected)
        {
            return true;
        }

        await this.gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await this.ConnectCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            this.gate.Release();
        }
    }

    /// <summary>
    /// Calls a tool by its name on the server, connecting first when needed, within
    /// <see cref="McpServerOptions.CallTimeout"/>. Problems the model should hear about (server unavailable, timeout,
    /// connection dropped, protocol errors) are thrown as <see cref="ToolException"/>.
    /// </summary>
    public async Task<CallToolResult> CallToolAsync(string toolName, IReadOnlyDictionary<string, object?> arguments, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(toolName);
        ArgumentNullException.ThrowIfNull(arguments);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref this.disposed) == 1, this);
        if (!this.options.Enabled)
        {
            throw new ToolException($"The MCP server {this.Name} is disabled (KestrelCloud:Mcp:Servers:{this.Name}:Enabled is false).");
        }

        McpClient? current = this.client;
        if (current is null || current.Completion.IsCompleted)
        {
            long failedAt = Volatile.Read(ref this.lastFailureTicks);
            if (failedAt != 0 && this.timeProvider.GetUtcNow().UtcTicks - failedAt < this.global.ReconnectDelay.Ticks && this.status.State == McpServerState.Failed)
            {
                throw new ToolException($"The MCP server {this.Name} is not available: {this.status.Reason} Try again later or use another tool.");
            }

            if (!await this.ConnectAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new ToolException($"The MCP server {this.Name} is not available: {this.status.Reason} Try again later or use another tool.");
            }

            current = this.client ?? throw new ToolException($"The MCP server {this.Name} disconnected before the call could be made.");
        }

        using var timeout = new CancellationTokenSource(this.options.CallTimeout, this.timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, this.disposing.Token);
        try
        {
            return await current.CallToolAsync(toolName, arguments, cancellationToken: linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ToolException($"The tool {toolName} of the MCP server {this.Name} did not answer within {Durations.Format(this.options.CallTimeout)}; the call was cancelled.");
        }
        catch (OperationCanceledException) when (this.disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ToolException($"The MCP server {this.Name} was stopped (the host is shutting down) during the call to {toolName}; the call may or may not have run.");
        }
        catch (McpProtocolException ex)
        {
            throw new ToolException($"The MCP server {this.Name} refused the call to {toolName}: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && (ex is IOException || current.Completion.IsCompleted))
        {
            throw new ToolException($"The connection to the MCP server {this.Name} dropped during the call to {toolName}; the call may or may not have run. The server is reconnected on the next call.", ex);
        }
    }

    /// <summary>Ends the session: the HTTP session is closed, the stdio server's process is stopped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref this.disposed, 1) == 1)
        {
            return;
        }

        await this.disposing.CancelAsync().ConfigureAwait(false);
        await this.gate.WaitAsync().ConfigureAwait(false);
        try
        {
            McpClient? current = this.client;
            this.client = null;
            if (current is not null)
            {
                await current.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            // The token source is not disposed: calls racing with disposal may still link to it.
            this.gate.Release();
        }
    }

    private bool IsConnected => this.client is { } c && !c.Completion.IsCompleted;

    private async Task<bool> ConnectCoreAsync(CancellationToken cancellationToken)
    {
        if (this.IsConnected)
        {
            return true;
        }

        McpClient? stale = this.client;
        this.client = null;
        if (stale is not null)
        {
            await stale.DisposeAsync().ConfigureAwait(false);
        }

        this.SetStatus(McpServerState.Connecting, null);
        lock (this.standardError)
        {
            this.standardError.Clear();
        }

        using var timeout = new CancellationTokenSource(this.options.ConnectTimeout, this.timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, this.disposing.Token);
        var holder = new ClientHolder();
        McpClient? created = null;
        try
        {
            IClientTransport transport = this.CreateTransport();
            var clientOptions = new McpClientOptions
            {
                ClientInfo = new Implementation { Name = "Kestrel.Cloud", Version = "1.0.0" },
                InitializationTimeout = this.options.ConnectTimeout,
                Handlers = new McpClientHandlers
                {
                    NotificationHandlers =
                    [
                        new(NotificationMethods.ToolListChangedNotification, (_, _) =>
                        {
                            _ = this.RefreshToolsAsync(holder.Client);
                            return ValueTask.CompletedTask;
                        }),
                    ],
                },
            };

            created = await McpClient.CreateAsync(transport, clientOptions, this.loggerFactory, linked.Token).ConfigureAwait(false);
            holder.Client = created;
            IList<McpClientTool> listed = await created.ListToolsAsync(cancellationToken: linked.Token).ConfigureAwait(false);
            this.tools = this.BuildTools(listed);
            this.client = created;
            Volatile.Write(ref this.lastFailureTicks, 0);
            this.SetStatus(McpServerState.Connected, null);
            McpLog.Connected(this.logger, this.Name, this.Transport, this.tools.Count);
            _ = this.WatchAsync(created);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (created is not null)
            {
                await DisposeQuietlyAsync(created).ConfigureAwait(false);
            }

            string reason = timeout.IsCancellationRequested
                ? $"it did not connect within {Durations.Format(this.options.ConnectTimeout)} (ConnectTimeout)."
                : this.Describe(ex);
            reason += this.StandardErrorTail();
            Volatile.Write(ref this.lastFailureTicks, this.timeProvider.GetUtcNow().UtcTicks);
            this.SetStatus(McpServerState.Failed, reason);
            McpLog.ConnectFailed(this.logger, this.Name, reason, ex);
            return false;
        }
        catch
        {
            if (created is not null)
            {
                await DisposeQuietlyAsync(created).ConfigureAwait(false);
            }

            this.SetStatus(McpServerState.Failed, "the connection attempt was cancelled.");
            throw;
        }
    }

    private IClientTransport CreateTransport()
    {
        if (this.options.IsStdio)
        {
            IReadOnlyDictionary<string, string> environment = McpServerEnvironment.Build(this.options, this.global);
            return new StdioClientTransport(
                new StdioClientTransportOptions
                {
                    Name = this.Name,
                    Command = this.options.Command!,
                    Arguments = this.options.Args.ToList(),
                    WorkingDirectory = string.IsNullOrEmpty(this.options.WorkingDirectory) ? null : this.options.WorkingDirectory,
                    InheritEnvironmentVariables = false,
                    EnvironmentVariables = environment.ToDictionary(e => e.Key, e => (string?)e.Value),
                    ShutdownTimeout = TimeSpan.FromSeconds(2),
                    StandardErrorLines = this.OnStandardError,
                },
                this.loggerFactory);
        }

        return new HttpClientTransport(
            new HttpClientTransportOptions
            {
                Name = this.Name,
                Endpoint = new Uri(this.options.Url!, UriKind.Absolute),
                TransportMode = HttpTransportMode.StreamableHttp,
                ConnectionTimeout = this.options.ConnectTimeout,
                AdditionalHeaders = new Dictionary<string, string>(this.options.Headers, StringComparer.OrdinalIgnoreCase),
            },
            this.loggerFactory);
    }

    private IReadOnlyList<McpAgentTool> BuildTools(IList<McpClientTool> listed)
    {
        // Names that need no change are claimed first, so sanitizing one tool never renames another.
        var taken = new HashSet<string>(StringComparer.Ordinal);
        var names = new string[listed.Count];
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 0; i < listed.Count; i++)
            {
                string toolName = listed[i].ProtocolTool.Name;
                if ((pass == 0) == McpToolNaming.NeedsNoChange(this.Name, toolName) && names[i] is null)
                {
                    names[i] = McpToolNaming.ToModelName(this.Name, toolName, taken);
                    taken.Add(names[i]);
                }
            }
        }

        return listed.Select((t, i) => new McpAgentTool(this, t.ProtocolTool, names[i])).ToList();
    }

    private async Task RefreshToolsAsync(McpClient? source)
    {
        if (source is null || !ReferenceEquals(source, this.client))
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(this.options.ConnectTimeout, this.timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, this.disposing.Token);
            IList<McpClientTool> listed = await source.ListToolsAsync(cancellationToken: linked.Token).ConfigureAwait(false);
            if (ReferenceEquals(source, this.client))
            {
                this.tools = this.BuildTools(listed);
                this.SetStatus(this.status.State, this.status.Reason);
                McpLog.ToolsChanged(this.logger, this.Name, this.tools.Count);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or McpException or IOException or ObjectDisposedException)
        {
            // The list stays as it was; a dropped connection is reported by WatchAsync.
        }
    }

    private async Task WatchAsync(McpClient watched)
    {
        ClientCompletionDetails details = await watched.Completion.ConfigureAwait(false);
        if (Volatile.Read(ref this.disposed) == 1 || !ReferenceEquals(watched, this.client))
        {
            return;
        }

        string reason = details switch
        {
            StdioClientCompletionDetails { ExitCode: { } code } => $"the server process exited with code {code}.",
            StdioClientCompletionDetails => "the server process ended.",
            _ when details.Exception is { } ex => $"the session ended: {ex.Message}",
            _ => "the session ended.",
        };
        reason += this.StandardErrorTail();
        this.SetStatus(McpServerState.Disconnected, reason);
        McpLog.Disconnected(this.logger, this.Name, reason);
    }

    private string Describe(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is Win32Exception)
            {
                return $"the command '{this.options.Command}' could not be started: {e.Message}. Check KestrelCloud:Mcp:Servers:{this.Name}:Command and PATH.";
            }

            if (e is ClientTransportClosedException { Details: StdioClientCompletionDetails { ExitCode: { } code } })
            {
                return $"the server process exited with code {code} before the handshake completed.";
            }

            if (e is HttpRequestException http)
            {
                return $"the HTTP endpoint could not be reached: {http.Message}";
            }
        }

        return $"{ex.GetType().Name}: {ex.Message}";
    }

    private void OnStandardError(string line)
    {
        McpLog.StandardError(this.logger, this.Name, line);
        lock (this.standardError)
        {
            this.standardError.Enqueue(line.Length > 300 ? line[..300] + "…" : line);
            while (this.standardError.Count > StandardErrorTailLines)
            {
                this.standardError.Dequeue();
            }
        }
    }

    private string StandardErrorTail()
    {
        lock (this.standardError)
        {
            string[] last = this.standardError.Where(l => !string.IsNullOrWhiteSpace(l)).TakeLast(3).ToArray();
            return last.Length == 0 ? string.Empty : " Last stderr lines: " + string.Join(" | ", last);
        }
    }

    private void SetStatus(McpServerState state, string? reason) =>
        this.status = new McpServerStatus(this.Name, this.Transport, state, this.tools.Count, reason, this.timeProvider.GetUtcNow());

    private static async Task DisposeQuietlyAsync(McpClient client)
    {
        try
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // Already broken; nothing more to release.
        }
    }

    private sealed class ClientHolder
    {
        public McpClient? Client { get; set; }
    }
}
