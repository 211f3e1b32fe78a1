using System.Net;
using System.Net.Sockets;
using Kestrel.Cloud.Functions;
using Kestrel.Cloud.Testing;
using Microsoft.AspNetCore.Builder;

namespace Kestrel.Cloud.Agents.Benchmarks;

/// <summary>
/// The real server (<see cref="KestrelCloudApp.Build"/>) in this process on a free 127.0.0.1 port: the SQLite store
/// in a temporary data folder, one OpenAI-compatible provider pointing at the <see cref="ZeroLatencyModel"/>, logging
/// at Warning (per-run Information lines would otherwise be written to the console and measured).
/// </summary>
public sealed class BenchServer : IAsyncDisposable
{
    public const string ApiKey = "bench-key-0123456789abcdef";

    private readonly WebApplication app;
    private readonly TempDirectory data;

    private BenchServer(WebApplication app, TempDirectory data, Uri baseAddress)
    {
        this.app = app;
        this.data = data;
        this.BaseAddress = baseAddress;
        this.Client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromMinutes(5),
        };
        this.Client.DefaultRequestHeaders.Add("x-api-key", ApiKey);
    }

    public Uri BaseAddress { get; }

    /// <summary>A client that sends the API key.</summary>
    public HttpClient Client { get; }

    public string DataPath => this.data.Path;

    /// <summary>The app's services (to time one component in place).</summary>
    public IServiceProvider Services => this.app.Services;

    public static async Task<BenchServer> StartAsync(Uri modelBaseUri, IEnumerable<string>? extraArgs = null)
    {
        var data = new TempDirectory("kestrel-agents-bench");
        for (int attempt = 1; ; attempt++)
        {
            int port = TestPorts.GetFreeTcpPort();
            var args = new List<string>
            {
                "--KestrelCloud:Durable:Store=sqlite",
                $"--KestrelCloud:DataPath={data.Path}",
                $"--urls=http://127.0.0.1:{port}",
                $"--KestrelCloud:ApiKeys:0={ApiKey}",
                "--Logging:LogLevel:Default=Warning",
                // Only the scripted provider: whatever the environment configures is switched off.
                "--OPENAI_API_KEY=", "--OPENAI_BASE_URL=", "--ANTHROPIC_API_KEY=", "--AZURE_OPENAI_ENDPOINT=", "--AZURE_OPENAI_API_KEY=",
                "--KestrelCloud:Models:DefaultProvider=scripted",
                "--KestrelCloud:Models:Providers:scripted:Type=openai",
                $"--KestrelCloud:Models:Providers:scripted:BaseUrl={modelBaseUri}",
                "--KestrelCloud:Models:Providers:scripted:ApiKeys:0=sk-bench",
                "--KestrelCloud:Models:Providers:scripted:DefaultModel=gpt-test",
                "--KestrelCloud:Models:Retry:MaxRetryAttempts=0",
            };
            args.AddRange(extraArgs ?? []);
            WebApplication app = KestrelCloudApp.Build(args.ToArray());
            try
            {
                await app.StartAsync();
            }
            catch (IOException ex) when (attempt < 5 && TestPorts.IsAddressInUse(ex))
            {
                await app.DisposeAsync();
                continue;
            }

            var server = new BenchServer(app, data, new Uri($"http://127.0.0.1:{port}/"));
            // The default agent is created at start; give its file tools something to list.
            string files = Path.Combine(data.Path, "agents", "default", "files");
            Directory.CreateDirectory(files);
            await File.WriteAllTextAsync(Path.Combine(files, "notes.txt"), "remember the milk\n");
            return server;
        }
    }

    public async ValueTask DisposeAsync()
    {
        this.Client.Dispose();
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await this.app.StopAsync(stopTimeout.Token);
        await this.app.DisposeAsync();
        this.data.Dispose();
    }
}
