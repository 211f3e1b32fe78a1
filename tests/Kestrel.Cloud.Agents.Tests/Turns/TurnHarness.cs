using System.Collections.Concurrent;
using System.Text.Json;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Testing.Scripted;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.Sqlite;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>
/// Real turns through the real engine, driven by hand on a <see cref="ManualTimeProvider"/>: AddKestrelAgents + the
/// engine on the in-memory or SQLite store, the real OpenAI SDK client against a <see cref="ScriptedServer"/>, a local
/// agent workspace, and test tools. Work runs only inside <see cref="RunUntilIdleAsync"/> / <see cref="AdvanceAsync"/>.
/// <see cref="RestartAsync"/> drops the service provider (worker, replay cache, store connection) and builds a new
/// one on the same database, sessions, event log and workspace, as a process restart would.
/// </summary>
internal sealed class TurnHarness : IAsyncDisposable
{
    private readonly bool sqlite;
    private readonly Dictionary<string, string?> settings;
    private readonly IAgentTool[] tools;
    private readonly InMemoryOrchestrationStore? memoryStore;
    private ServiceProvider provider = null!;

    private TurnHarness(bool sqlite, ScriptedServer server, Dictionary<string, string?> settings, IAgentTool[] tools)
    {
        this.sqlite = sqlite;
        this.Server = server;
        this.settings = settings;
        this.tools = tools;
        this.Workspace = new LocalAgentWorkspace(System.IO.Path.Join(this.Temp.Path, "agents"));
        this.Sessions = new InMemorySessionStore(this.Clock);
        this.Events = new InMemoryRunEventLog(this.Clock);
        this.memoryStore = sqlite ? null : new InMemoryOrchestrationStore(this.Clock);
    }

    public ManualTimeProvider Clock { get; } = new();

    public TempDirectory Temp { get; } = new("kestrel-turns");

    public ScriptedServer Server { get; }

    public LocalAgentWorkspace Workspace { get; }

    public InMemorySessionStore Sessions { get; }

    public InMemoryRunEventLog Events { get; }

    public FakeLinkFactory Links { get; } = new();

    public IOrchestrationStore Store { get; private set; } = null!;

    public DurableTaskWorker Worker { get; private set; } = null!;

    public DurableTaskClient Client { get; private set; } = null!;

    public IAgentRunService Runs { get; private set; } = null!;

    public IServiceProvider Services => this.provider;

    public static Task<TurnHarness> CreateAsync(bool sqlite, IReadOnlyDictionary<string, string?>? settings = null, params IAgentTool[] tools) =>
        CreateAsync(sqlite, anthropic: false, settings, tools);

    /// <summary>As above; with <paramref name="anthropic"/> the scripted provider is of type anthropic (the Messages API at the server's root).</summary>
    public static async Task<TurnHarness> CreateAsync(bool sqlite, bool anthropic, IReadOnlyDictionary<string, string?>? settings, params IAgentTool[] tools)
    {
        ScriptedServer server = await ScriptedServer.StartAsync();
        var all = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["KestrelCloud:Models:DefaultProvider"] = "scripted",
            ["KestrelCloud:Models:Providers:scripted:Type"] = anthropic ? "anthropic" : "openai",
            ["KestrelCloud:Models:Providers:scripted:BaseUrl"] = anthropic ? server.BaseUri.ToString() : new Uri(server.BaseUri, "v1").ToString(),
            ["KestrelCloud:Models:Providers:scripted:ApiKeys:0"] = "sk-test",
            ["KestrelCloud:Models:Providers:scripted:DefaultModel"] = "gpt-test",
            ["KestrelCloud:Models:Providers:scripted:Prices:gpt-test:Input"] = "2",
            ["KestrelCloud:Models:Providers:scripted:Prices:gpt-test:Output"] = "10",
            ["KestrelCloud:Models:Retry:MaxRetryAttempts"] = "0",
            ["KestrelCloud:Agents:ApprovalTimeout"] = "01:00:00",
        };
        foreach ((string key, string? value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var harness = new TurnHarness(sqlite, server, all, tools);
        await harness.BuildAsync();
        return harness;
    }

    public Task CreateAgentAsync(string name, string frontMatter, string prompt = "You are a test agent.") =>
        this.Workspace.CreateAgentAsync(name, new AgentFiles($"---\n{frontMatter}\n---\n{prompt}\n"));

    public async Task<string> StartAsync(string agent, string message, string? sessionKey = null) =>
        (await this.Runs.StartAsync(new StartRunRequest(agent, message, sessionKey))).RunId;

    public async Task<RunInfo> GetAsync(string runId) => await this.Runs.GetAsync(runId) ?? throw new InvalidOperationException($"No run {runId}.");

    /// <summary>Runs orchestration steps and activities until neither has visible work (bounded).</summary>
    public async Task RunUntilIdleAsync()
    {
        for (int i = 0; i < 10_000; i++)
        {
            bool any = await this.Worker.TryProcessNextOrchestrationAsync();
            any |= await this.Worker.TryProcessNextActivityAsync();
            if (!any)
            {
                return;
            }
        }

        throw new InvalidOperationException("The engine was still busy after 10000 work items.");
    }

    /// <summary>Runs single work items until <paramref name="condition"/> holds (bounded); returns false when the engine went idle first.</summary>
    public async Task<bool> RunUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 10_000; i++)
        {
            if (condition())
            {
                return true;
            }

            bool any = await this.Worker.TryProcessNextOrchestrationAsync();
            if (condition())
            {
                return true;
            }

            any |= await this.Worker.TryProcessNextActivityAsync();
            if (!any)
            {
                return condition();
            }
        }

        return condition();
    }

    /// <summary>Moves the clock forward, stopping at each due wake-up (timers) to run until idle.</summary>
    public async Task AdvanceAsync(TimeSpan delta)
    {
        DateTime target = this.Clock.GetUtcNow().UtcDateTime + delta;
        await this.RunUntilIdleAsync();
        for (int i = 0; i < 1000; i++)
        {
            DateTime? a = await this.Store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration);
            DateTime? b = await this.Store.GetNextWakeUpTimeAsync(WorkItemKind.Activity);
            DateTime? next = a is null ? b : b is null ? a : (a < b ? a : b);
            if (next is not { } due || due > target)
            {
                break;
            }

            if (due > this.Clock.GetUtcNow().UtcDateTime)
            {
                this.Clock.SetUtcNow(new DateTimeOffset(DateTime.SpecifyKind(due, DateTimeKind.Utc)));
            }

            await this.RunUntilIdleAsync();
        }

        if (target > this.Clock.GetUtcNow().UtcDateTime)
        {
            this.Clock.SetUtcNow(new DateTimeOffset(DateTime.SpecifyKind(target, DateTimeKind.Utc)));
        }

        await this.RunUntilIdleAsync();
    }

    public async Task RestartAsync()
    {
        await this.provider.DisposeAsync();
        await this.BuildAsync();
    }

    public async Task<IReadOnlyList<RunEvent>> EventsOfAsync(string runId) => await this.Events.ReadAsync(runId, 0, 10_000);

    public async ValueTask DisposeAsync()
    {
        await this.provider.DisposeAsync();
        await this.Server.DisposeAsync();
        this.Temp.Dispose();
    }

    private async Task BuildAsync()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(this.settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(this.Clock);
        services.AddSingleton<IAgentWorkspace>(this.Workspace);
        services.AddSingleton<ISessionStore>(this.Sessions);
        services.AddSingleton<IRunEventLog>(this.Events);
        services.AddSingleton<IApprovalLinkFactory>(this.Links);
        foreach (IAgentTool tool in this.tools)
        {
            services.AddSingleton(tool);
        }

        services.AddKestrelAgents(configuration);
        if (this.sqlite)
        {
            string path = System.IO.Path.Join(this.Temp.Path, "durable.db");
            services.AddDurableTaskSqliteStore(o => o.DatabasePath = path);
        }
        else
        {
            services.AddSingleton<IOrchestrationStore>(this.memoryStore!);
        }

        this.provider = services.BuildServiceProvider();
        this.Store = this.provider.GetRequiredService<IOrchestrationStore>();
        await this.Store.InitializeAsync();
        this.Worker = this.provider.GetRequiredService<DurableTaskWorker>();
        this.Client = this.provider.GetRequiredService<DurableTaskClient>();
        this.Runs = this.provider.GetRequiredService<IAgentRunService>();
    }
}

/// <summary>Approval links that name the run, call and decision, so tests can see what was asked for.</summary>
internal sealed class FakeLinkFactory : IApprovalLinkFactory
{
    public (string ApproveUrl, string DenyUrl) CreateLinks(string runId, string callId, DateTimeOffset expiresAt) =>
        ($"https://kestrel.test/approve/{runId}/{callId}", $"https://kestrel.test/deny/{runId}/{callId}");
}

/// <summary>A tool that records every call and answers <c>{name} got {arguments}</c>.</summary>
internal sealed class RecordingTool(string name, bool isReadOnly) : IAgentTool
{
    private readonly ConcurrentQueue<string> calls = new();

    public string Name => name;

    public string Description => $"The {name} test tool.";

    public JsonElement ParametersSchema { get; } = JsonDocument.Parse("""{"type":"object","properties":{"q":{"type":"string"}}}""").RootElement.Clone();

    public bool IsReadOnly => isReadOnly;

    public IReadOnlyList<string> Calls => this.calls.ToList();

    public Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken)
    {
        this.calls.Enqueue(arguments.GetRawText());
        return Task.FromResult(ToolResult.Success($"{name} got {arguments.GetRawText()}"));
    }
}
