using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kestrel.Cloud.Testing.Node;

namespace Kestrel.Cloud.Testing.Azurite;

/// <summary>
/// Runs the Azurite storage emulator (pinned in the repository's package.json) on 127.0.0.1 with free
/// ports, in-memory persistence and telemetry off, for the lifetime of the fixture. Installs it from the
/// lockfile through <see cref="NodePackages"/> (<c>npm ci</c> when node_modules does not match the lockfile, under
/// a cross-process lock so parallel test projects do not race). Use it as an xunit collection fixture (the constructor starts the emulator,
/// <see cref="Dispose"/> kills its process tree), or create one with <see cref="StartAsync"/>. Azurite runs in a
/// temporary working folder (it refuses <c>--location</c> together with <c>--inMemoryPersistence</c>).
/// </summary>
public sealed class AzuriteFixture : IDisposable, IAsyncDisposable
{
    /// <summary>The emulator's well-known account name.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>The emulator's well-known account key (public, documented by Microsoft; not a secret).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Longest wait for <c>npm ci</c>, including the wait for another process's install.</summary>
    public static readonly TimeSpan InstallTimeout = NodePackages.InstallTimeout;

    /// <summary>Longest wait for the emulator's ports to accept connections.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private const int MaxStartAttempts = 3;
    private static readonly TimeSpan PortProbeDelay = TimeSpan.FromMilliseconds(50);

    private readonly StringBuilder output = new();
    private Process? process;
    private TempDirectory? location;
    private int disposed;

    /// <summary>Starts the emulator (blocking); for xunit fixtures, which need a parameterless constructor.</summary>
    public AzuriteFixture()
    {
        // Run on the thread pool: xunit's synchronization context must not be captured by the awaits.
        Task.Run(() => this.StartCoreAsync(CancellationToken.None)).GetAwaiter().GetResult();
    }

    private AzuriteFixture(bool start)
    {
        _ = start;
    }

    /// <summary>The blob endpoint, for example <c>http://127.0.0.1:50123/devstoreaccount1</c>.</summary>
    public Uri BlobEndpoint { get; private set; } = null!;

    /// <summary>The queue endpoint.</summary>
    public Uri QueueEndpoint { get; private set; } = null!;

    /// <summary>The table endpoint.</summary>
    public Uri TableEndpoint { get; private set; } = null!;

    /// <summary>A connection string with the well-known key and explicit endpoints.</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint={this.BlobEndpoint};QueueEndpoint={this.QueueEndpoint};TableEndpoint={this.TableEndpoint};";

    /// <summary>The emulator's process id, while it runs.</summary>
    public int ProcessId => this.process?.Id ?? 0;

    /// <summary>What the emulator printed (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (this.output)
            {
                return this.output.ToString();
            }
        }
    }

    /// <summary>
    /// Throws, with the emulator's exit code and output, when its process is no longer running (it crashed or
    /// something killed it), so tests fail at once with the reason instead of after the SDK's retries.
    /// </summary>
    public void ThrowIfExited()
    {
        Process? p = this.process;
        if (p is null || p.HasExited)
        {
            string code = p is null ? "unknown" : p.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw new InvalidOperationException(
                $"Azurite is not running (exit code {code}); the tests that share this fixture cannot reach storage. Output:{Environment.NewLine}{Tail(this.Output)}");
        }
    }

    /// <summary>Starts an emulator; dispose it to stop it.</summary>
    public static async Task<AzuriteFixture> StartAsync(CancellationToken cancellationToken = default)
    {
        var fixture = new AzuriteFixture(start: false);
        try
        {
            await fixture.StartCoreAsync(cancellationToken).ConfigureAwait(false);
            return fixture;
        }
        catch
        {
            fixture.Dispose();
            throw;
        }
    }

    /// <summary>The repository root: the nearest folder above <paramref name="start"/> holding Kestrel.Cloud.sln.</summary>
    public static string FindRepositoryRoot(string? start = null) => NodePackages.FindRepositoryRoot(start);

    /// <summary>
    /// Makes sure node_modules under <paramref name="repositoryRoot"/> matches the lockfile
    /// (<see cref="NodePackages.EnsureInstalledAsync"/>: <c>npm ci</c> once, under a cross-process lock, when the
    /// lockfile changed). Returns the path of Azurite's entry script.
    /// </summary>
    public static async Task<string> EnsureInstalledAsync(string repositoryRoot, CancellationToken cancellationToken = default)
    {
        string nodeModules = await NodePackages.EnsureInstalledAsync(repositoryRoot, cancellationToken).ConfigureAwait(false);
        string script = Path.Combine(nodeModules, "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(script))
        {
            throw new InvalidOperationException($"'{script}' does not exist after npm ci; check that package.json pins azurite.");
        }

        return script;
    }

    /// <summary>Kills the emulator's process tree and deletes its workspace.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref this.disposed, 1) == 1)
        {
            return;
        }

        Process? p = this.process;
        this.process = null;
        if (p is not null)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            finally
            {
                p.Dispose();
            }
        }

        this.location?.Dispose();
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        this.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Tail(string text, int max = 4000) => text.Length <= max ? text : "…" + text[^max..];

    private static void Append(StringBuilder log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.AppendLine(line);
        }
    }

    private static async Task<bool> AcceptsConnectionAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        string root = FindRepositoryRoot();
        string script = await EnsureInstalledAsync(root, cancellationToken).ConfigureAwait(false);
        this.location = new TempDirectory("azurite");
        Exception? last = null;
        for (int attempt = 1; attempt <= MaxStartAttempts; attempt++)
        {
            // A free port can be taken by someone else between the probe and Azurite's bind: retry with new ports.
            int blob = TestPorts.GetFreeTcpPort();
            int queue = TestPorts.GetFreeTcpPort();
            int table = TestPorts.GetFreeTcpPort();
            try
            {
                await this.StartProcessAsync(script, blob, queue, table, cancellationToken).ConfigureAwait(false);
                this.BlobEndpoint = new Uri($"http://127.0.0.1:{blob}/{AccountName}");
                this.QueueEndpoint = new Uri($"http://127.0.0.1:{queue}/{AccountName}");
                this.TableEndpoint = new Uri($"http://127.0.0.1:{table}/{AccountName}");
                return;
            }
            catch (InvalidOperationException ex) when (attempt < MaxStartAttempts && this.Output.Contains("EADDRINUSE", StringComparison.Ordinal))
            {
                last = ex;
            }
        }

        throw new InvalidOperationException($"Azurite did not start after {MaxStartAttempts} attempts.", last);
    }

    private async Task StartProcessAsync(string script, int blobPort, int queuePort, int tablePort, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = this.location!.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] args =
        [
            // No --location: Azurite 3.35 refuses it with --inMemoryPersistence. The process runs in a temporary
            // working folder instead, so nothing it might write lands in the repository.
            script, "--silent", "--disableTelemetry", "--inMemoryPersistence", "--skipApiVersionCheck",
            "--blobHost", "127.0.0.1", "--blobPort", blobPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--queueHost", "127.0.0.1", "--queuePort", queuePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--tableHost", "127.0.0.1", "--tablePort", tablePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ];
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => Append(this.output, e.Data);
        p.ErrorDataReceived += (_, e) => Append(this.output, e.Data);
        try
        {
            p.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            p.Dispose();
            throw new InvalidOperationException($"Could not start 'node': {ex.Message}. Install Node.js and put it on PATH.", ex);
        }

        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        this.process = p;

        // If the test host exits without disposing the fixture, do not leave the emulator running.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => this.Dispose();

        // Real time is unavoidable here: the emulator is another process. Probe with a bounded deadline.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (p.HasExited)
            {
                this.process = null;
                p.Dispose();
                throw new InvalidOperationException($"Azurite exited before it accepted connections. Output:{Environment.NewLine}{Tail(this.Output)}");
            }

            if (await AcceptsConnectionAsync(blobPort, cancellationToken).ConfigureAwait(false)
                && await AcceptsConnectionAsync(queuePort, cancellationToken).ConfigureAwait(false)
                && await AcceptsConnectionAsync(tablePort, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            if (deadline.Elapsed > StartTimeout)
            {
                this.process = null;
                p.Kill(entireProcessTree: true);
                p.Dispose();
                throw new TimeoutException($"Azurite did not accept connections within {StartTimeout}. Output:{Environment.NewLine}{Tail(this.Output)}");
            }

            await Task.Delay(PortProbeDelay, cancellationToken).ConfigureAwait(false);
        }
    }
}
