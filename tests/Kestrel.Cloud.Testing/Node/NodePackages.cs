using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Kestrel.Cloud.Testing.Node;

/// <summary>
/// The Node.js packages pinned in the repository's <c>package.json</c>/<c>package-lock.json</c> (Azurite, the MCP
/// reference servers). <see cref="EnsureInstalledAsync"/> runs <c>npm ci</c> when node_modules does not match the
/// lockfile: a stamp file in node_modules records the SHA-256 of the lockfile that was installed, so a changed lockfile
/// reinstalls and an unchanged one costs one file read. Installs run under a cross-process lock (an exclusive file
/// open, released by the OS if the holder dies), so test projects running in parallel do not race, and once per
/// process. <see cref="ResolveBinAsync"/> finds a package's executable script from its package.json <c>bin</c>.
/// </summary>
public static class NodePackages
{
    /// <summary>The stamp file (in node_modules) holding the installed lockfile's hash.</summary>
    public const string StampFileName = ".kestrel-cloud-lock.sha256";

    /// <summary>Longest wait for <c>npm ci</c>, including the wait for another process's install.</summary>
    public static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(10);

    private static readonly TimeSpan LockRetryDelay = TimeSpan.FromMilliseconds(200);
    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Installs = new(StringComparer.Ordinal);

    /// <summary>The repository root: the nearest folder above <paramref name="start"/> (default: the test's output folder) holding Kestrel.Cloud.sln.</summary>
    public static string FindRepositoryRoot(string? start = null)
    {
        for (var dir = new DirectoryInfo(start ?? AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kestrel.Cloud.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"No folder above '{start ?? AppContext.BaseDirectory}' holds Kestrel.Cloud.sln. Run the tests from inside the repository.");
    }

    /// <summary>
    /// Makes node_modules under <paramref name="repositoryRoot"/> (default: <see cref="FindRepositoryRoot"/>) match
    /// package-lock.json, running <c>npm ci --no-audit --no-fund</c> when the stamp is missing or differs. Returns the
    /// node_modules folder.
    /// </summary>
    public static Task<string> EnsureInstalledAsync(string? repositoryRoot = null, CancellationToken cancellationToken = default)
    {
        string root = Path.GetFullPath(repositoryRoot ?? FindRepositoryRoot());
        Lazy<Task<string>> install = Installs.GetOrAdd(root, r => new Lazy<Task<string>>(() => InstallAsync(r)));
        Task<string> task = install.Value;
        if (task.IsFaulted || task.IsCanceled)
        {
            // Do not cache a failure: the next test may try again (for example after the registry came back).
            Installs.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(root, install));
        }

        return task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// The absolute path of <paramref name="packageName"/>'s executable script (its package.json <c>bin</c>; the entry
    /// named <paramref name="binName"/> when it has several), after <see cref="EnsureInstalledAsync"/>. Run it with
    /// <c>node &lt;path&gt;</c>.
    /// </summary>
    public static async Task<string> ResolveBinAsync(string packageName, string? binName = null, string? repositoryRoot = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(packageName);
        string nodeModules = await EnsureInstalledAsync(repositoryRoot, cancellationToken).ConfigureAwait(false);
        string packageDirectory = Path.Combine(nodeModules, packageName.Replace('/', Path.DirectorySeparatorChar));
        string manifest = Path.Combine(packageDirectory, "package.json");
        if (!File.Exists(manifest))
        {
            throw new InvalidOperationException($"The package '{packageName}' is not installed in '{nodeModules}'. Add it to package.json, run 'npm install --package-lock-only' and commit package-lock.json.");
        }

        using JsonDocument document = JsonDocument.Parse(await File.ReadAllTextAsync(manifest, cancellationToken).ConfigureAwait(false));
        string? relative = null;
        if (document.RootElement.TryGetProperty("bin", out JsonElement bin))
        {
            if (bin.ValueKind == JsonValueKind.String)
            {
                relative = bin.GetString();
            }
            else if (bin.ValueKind == JsonValueKind.Object)
            {
                JsonProperty[] entries = bin.EnumerateObject().ToArray();
                JsonProperty? chosen = binName is null
                    ? (entries.Length == 1 ? entries[0] : null)
                    : entries.Cast<JsonProperty?>().FirstOrDefault(e => e!.Value.Name == binName);
                relative = chosen?.Value.GetString();
                if (chosen is null)
                {
                    throw new InvalidOperationException(
                        $"The package '{packageName}' has the executables {string.Join(", ", entries.Select(e => e.Name))}; pass the one to use as binName{(binName is null ? string.Empty : $" ('{binName}' is not one of them)")}.");
                }
            }
        }

        if (string.IsNullOrEmpty(relative))
        {
            throw new InvalidOperationException($"The package '{packageName}' declares no executable (no 'bin' in its package.json).");
        }

        string path = Path.GetFullPath(Path.Combine(packageDirectory, relative));
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"The executable '{path}' of '{packageName}' does not exist; node_modules may be damaged. Delete node_modules and run the tests again.");
        }

        return path;
    }

    /// <summary>The SHA-256 (hex) of the repository's package-lock.json.</summary>
    public static string LockfileHash(string repositoryRoot)
    {
        string lockfile = Path.Combine(repositoryRoot, "package-lock.json");
        if (!File.Exists(lockfile))
        {
            throw new InvalidOperationException($"'{lockfile}' does not exist; run 'npm install --package-lock-only' in the repository root and commit it.");
        }

        return Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(lockfile))).ToLowerInvariant();
    }

    private static async Task<string> InstallAsync(string root)
    {
        string nodeModules = Path.Combine(root, "node_modules");
        string stamp = Path.Combine(nodeModules, StampFileName);
        string hash = LockfileHash(root);
        if (IsStamped(stamp, hash))
        {
            return nodeModules;
        }

        using var timeout = new CancellationTokenSource(InstallTimeout);
        string lockPath = Path.Combine(Path.GetTempPath(), $"kestrel-cloud-npm-{ShortHash(root)}.lock");
        using FileStream held = await AcquireFileLockAsync(lockPath, timeout.Token).ConfigureAwait(false);
        if (IsStamped(stamp, hash))
        {
            return nodeModules; // another process installed it while we waited
        }

        (int exitCode, string log) = await RunAsync(NpmExecutable(), ["ci", "--no-audit", "--no-fund"], root, timeout.Token).ConfigureAwait(false);
        if (exitCode != 0 || !Directory.Exists(nodeModules))
        {
            throw new InvalidOperationException(
                $"'npm ci --no-audit --no-fund' in '{root}' exited with {exitCode}. Install Node.js (with npm) and check that the npm registry is reachable. Output:{Environment.NewLine}{Tail(log)}");
        }

        await File.WriteAllTextAsync(stamp, hash, timeout.Token).ConfigureAwait(false);
        return nodeModules;
    }

    private static bool IsStamped(string stamp, string hash)
    {
        try
        {
            return File.Exists(stamp) && string.Equals(File.ReadAllText(stamp).Trim(), hash, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string NpmExecutable() => OperatingSystem.IsWindows() ? "npm.cmd" : "npm";

    private static string ShortHash(string text) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();

    private static string Tail(string text, int max = 4000) => text.Length <= max ? text : "…" + text[^max..];

    private static async Task<FileStream> AcquireFileLockAsync(string path, CancellationToken cancellationToken)
    {
        // An exclusive open is the cross-process lock; the OS releases it if the holder dies.
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                // Held by another test process: poll until it is released or the install deadline passes.
                await Task.Delay(LockRetryDelay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, string[] arguments, string workingDirectory, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = new Process { StartInfo = psi };
        var log = new StringBuilder();
        p.OutputDataReceived += (_, e) => Append(log, e.Data);
        p.ErrorDataReceived += (_, e) => Append(log, e.Data);
        try
        {
            p.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"Could not start '{fileName}': {ex.Message}. Install Node.js (with npm) and put it on PATH.", ex);
        }

        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{fileName} {string.Join(' ', arguments)}' did not finish within {InstallTimeout}.");
        }

        lock (log)
        {
            return (p.ExitCode, log.ToString());
        }
    }

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
}
