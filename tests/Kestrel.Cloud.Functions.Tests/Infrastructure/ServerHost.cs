using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Tests.Infrastructure;

/// <summary>What a test changes about the server it starts.</summary>
public sealed class ServerHostOptions
{
    /// <summary>The configured API keys; empty to make the server generate one.</summary>
    public List<string> ApiKeys { get; } = new() { ServerHost.ApiKey };

    /// <summary>Extra command-line arguments.</summary>
    public List<string> Args { get; } = new();

    /// <summary>Extra service registrations (run after the app's and the host's own).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; set; }

    /// <summary>An existing data folder to use (the host then does not delete it).</summary>
    public string? DataPath { get; set; }

    /// <summary>Listen on this URL instead of a free loopback port (for custom-handler tests).</summary>
    public bool ChooseUrl { get; set; } = true;

    /// <summary>
    /// Starts the app as the Functions host does: <c>FUNCTIONS_CUSTOMHANDLER_PORT</c> set to a free port, which the app
    /// binds itself (so <see cref="ChooseUrl"/> is off). Returns the port.
    /// </summary>
    public int UnderFunctionsHost()
    {
        int port = TestPorts.GetFreeTcpPort();
        this.ChooseUrl = false;
        this.Args.Add($"--FUNCTIONS_CUSTOMHANDLER_PORT={port}");
        return port;
    }

    /// <summary>
    /// The Azure Storage store chosen the way a deployment chooses it: <c>AzureWebJobsStorage</c> set (and no explicit
    /// store), on its own <paramref name="taskHub"/>.
    /// </summary>
    public void UseAzureWebJobsStorage(string connectionString, string taskHub)
    {
        this.Args.Add($"--AzureWebJobsStorage={connectionString}");
        this.Args.Add("--KestrelCloud:Durable:Store=");
        this.Args.Add($"--KestrelCloudTaskHub={taskHub}");
    }
}

/// <summary>
/// The real app on a free 127.0.0.1 port, with the memory store, a <see cref="ManualTimeProvider"/> and captured
/// logs; clients call it over real HTTP.
/// </summary>
public sealed class ServerHost : IAsyncDisposable
{
    /// <summary>The API key configured by default.</summary>
    public const string ApiKey = "test-key-0123456789abcdef";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory? ownedData;

    private ServerHost(WebApplication app, Uri baseAddress, ManualTimeProvider clock, CapturingLoggerProvider logs, string dataPath, TempDirectory? ownedData)
    {
        this.App = app;
        this.BaseAddress = baseAddress;
        this.Clock = clock;
        this.Logs = logs;
        this.DataPath = dataPath;
        this.ownedData = ownedData;
        this.Anonymous = new HttpClient { BaseAddress = baseAddress };
        this.Client = new HttpClient { BaseAddress = baseAddress };
        this.Client.DefaultRequestHeaders.Add("x-api-key", ApiKey);
    }

    /// <summary>The running app.</summary>
    public WebApplication App { get; }

    /// <summary>Where it listens.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The app's clock.</summary>
    public ManualTimeProvider Clock { get; }

    /// <summary>Everything the app logged.</summary>
    public CapturingLoggerProvider Logs { get; }

    /// <summary>The app's data folder.</summary>
    public string DataPath { get; }

    /// <summary>A client that sends the default API key.</summary>
    public HttpClient Client { get; }

    /// <summary>A client that sends no API key.</summary>
    public HttpClient Anonymous { get; }

    /// <summary>The app's engine client.</summary>
    public DurableTaskClient DurableClient => this.App.Services.GetRequiredService<DurableTaskClient>();

    /// <summary>The app's store.</summary>
    public IOrchestrationStore Store => this.App.Services.GetRequiredService<IOrchestrationStore>();

    /// <summary>Starts a server.</summary>
    public static async Task<ServerHost> StartAsync(Action<ServerHostOptions>? configure = null)
    {
        var options = new ServerHostOptions();
        configure?.Invoke(options);
        TempDirectory? ownedData = options.DataPath is null ? new TempDirectory("kestrel-functions") : null;
        string dataPath = options.DataPath ?? ownedData!.Path;
        var clock = new ManualTimeProvider();
        var logs = new CapturingLoggerProvider();

        // A port that was free a moment ago may be taken by a parallel test: try a few.
        for (int attempt = 1; ; attempt++)
        {
            int port = TestPorts.GetFreeTcpPort();
            var args = new List<string>
            {
                "--KestrelCloud:Durable:Store=memory",
                $"--KestrelCloud:DataPath={dataPath}",
            };
            if (options.ChooseUrl)
            {
                args.Add($"--urls=http://127.0.0.1:{port}");
            }

            for (int i = 0; i < options.ApiKeys.Count; i++)
            {
                args.Add($"--KestrelCloud:ApiKeys:{i}={options.ApiKeys[i]}");
            }

            args.AddRange(options.Args);
            WebApplication app = KestrelCloudApp.Build(args.ToArray(), services =>
            {
                services.AddSingleton<TimeProvider>(clock);
                services.AddSingleton<ILoggerProvider>(logs);
                options.ConfigureServices?.Invoke(services);
            });
            try
            {
                await app.StartAsync();
            }
            catch (IOException ex) when (attempt < 5 && TestPorts.IsAddressInUse(ex))
            {
                await app.DisposeAsync();
                continue;
            }

            string address = options.ChooseUrl ? $"http://127.0.0.1:{port}/" : app.Urls.First().TrimEnd('/') + "/";
            return new ServerHost(app, new Uri(address), clock, logs, dataPath, ownedData);
        }
    }

    /// <summary>What the Functions host posts to <c>/Housekeeping</c> when the timer fires.</summary>
    public const string TimerPayload =
        """{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"Housekeeping"}}}""";

    /// <summary>Invokes the <c>Housekeeping</c> timer trigger as the host does (no API key); the app must run under the host.</summary>
    public Task<HttpResponseMessage> InvokeHousekeepingAsync() =>
        this.Anonymous.PostAsync("/Housekeeping", new StringContent(TimerPayload, System.Text.Encoding.UTF8, "application/json"));

    /// <summary>A cancellation token that fires after the test deadline (real time; only a bound, never a wait).</summary>
    public static CancellationToken DeadlineToken() => new CancellationTokenSource(Deadline).Token;

    /// <summary>A client that sends the given headers.</summary>
    public HttpClient CreateClient(Action<HttpRequestHeaders> headers)
    {
        var client = new HttpClient { BaseAddress = this.BaseAddress };
        headers(client.DefaultRequestHeaders);
        return client;
    }

    /// <summary>Waits, signalled by the store and bounded by the deadline, until the instance satisfies <paramref name="condition"/>.</summary>
    public async Task<OrchestrationMetadata> WaitForInstanceAsync(string instanceId, Func<OrchestrationMetadata, bool> condition)
    {
        CancellationToken deadline = DeadlineToken();
        while (true)
        {
            Task changed = this.Store.Signals.WhenInstanceChanged(instanceId);
            OrchestrationMetadata? metadata = await this.DurableClient.GetInstanceAsync(instanceId, getInputsAndOutputs: true, deadline);
            if (metadata is not null && condition(metadata))
            {
                return metadata;
            }

            // The signal covers every change this process makes; the bounded re-check is a safety net only.
            await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(200), deadline));
            deadline.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Waits for a terminal state, bounded by the deadline.</summary>
    public Task<OrchestrationMetadata> WaitForCompletionAsync(string instanceId) =>
        this.DurableClient.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs: true, DeadlineToken());

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        this.Client.Dispose();
        this.Anonymous.Dispose();
        await this.App.StopAsync();
        await this.App.DisposeAsync();
        this.ownedData?.Dispose();
    }
}
