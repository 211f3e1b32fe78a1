using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using Kestrel.Cloud.Functions.FunctionsHost;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Functions.Tests.Deployment;

/// <summary>
/// The Azure Functions layout: host.json and the function folders in source agree with the endpoints the app maps,
/// and scripts/publish-functionapp.sh produces a zip with them and an executable handler.
/// </summary>
public class FunctionAppLayoutTests
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public void HostJson_CustomHandler_ForwardsHttpAndDecodesBase64QueueMessagesWithRetriesAboveTheStore()
    {
        JsonElement host = ReadJson(Path.Combine(RepositoryRoot(), "host.json"));

        host.GetProperty("customHandler").GetProperty("enableForwardingHttpRequest").GetBoolean().Should().BeTrue();
        host.GetProperty("customHandler").GetProperty("description").GetProperty("defaultExecutablePath").GetString().Should().Be("Kestrel.Cloud.Functions");
        JsonElement queues = host.GetProperty("extensions").GetProperty("queues");
        queues.GetProperty("messageEncoding").GetString().Should().Be("base64");
        queues.GetProperty("maxDequeueCount").GetInt32().Should().BeGreaterThan(new Durable.AzureStorage.AzureStorageStoreOptions().MaxDequeueCount);
        host.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString().Should().Be("api");
    }

    [Theory]
    [InlineData(InvocationEndpoints.ControlQueueFunction, "%KestrelCloudTaskHub%-control")]
    [InlineData(InvocationEndpoints.ActivityQueueFunction, "%KestrelCloudTaskHub%-activities")]
    public void FunctionJson_QueueTrigger_BindsTheStoreQueueUnderTheEndpointName(string function, string queueName)
    {
        JsonElement binding = ReadJson(Path.Combine(RepositoryRoot(), "functions", "host", function, "function.json")).GetProperty("bindings")[0];

        binding.GetProperty("type").GetString().Should().Be("queueTrigger");
        binding.GetProperty("name").GetString().Should().Be(InvocationEndpoints.MessageBinding);
        binding.GetProperty("queueName").GetString().Should().Be(queueName);
    }

    [Fact]
    public void FunctionJson_Folders_AreExactlyTheTriggersTheAppServes()
    {
        string[] folders = Directory.GetDirectories(Path.Combine(RepositoryRoot(), "functions", "host"))
            .Where(d => File.Exists(Path.Combine(d, "function.json")))
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)
            .ToArray()!;

        folders.Should().Equal("ActivityQueue", "Api", "ControlQueue", "Housekeeping");
    }

    [Fact]
    public async Task PublishScript_Run_ProducesZipWithHostJsonFunctionFoldersAndExecutableHandler()
    {
        using var temp = new TempDirectory("kestrel-publish");
        string zip = Path.Combine(temp.Path, "app.zip");

        await RunAsync("bash", Path.Combine(RepositoryRoot(), "scripts", "publish-functionapp.sh"), Path.Combine(temp.Path, "app"), zip);

        using ZipArchive archive = ZipFile.OpenRead(zip);
        var names = archive.Entries.Select(e => e.FullName.Replace('\\', '/')).ToHashSet(StringComparer.Ordinal);
        names.Should().Contain(new[]
        {
            "host.json", "ControlQueue/function.json", "ActivityQueue/function.json", "Housekeeping/function.json", "Api/function.json",
            "Kestrel.Cloud.Functions", "Kestrel.Cloud.Functions.dll", "libcoreclr.so",
        });
        names.Should().NotContain(n => n.StartsWith("functions/", StringComparison.Ordinal) || n == "local.settings.json");
        int mode = (archive.GetEntry("Kestrel.Cloud.Functions")!.ExternalAttributes >> 16) & 0x1FF;
        (mode & 0x49).Should().Be(0x49, "the handler must be executable (mode {0})", Convert.ToString(mode, 8));
    }

    private static async Task RunAsync(string fileName, params string[] args)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(PublishTimeout);
        await process.WaitForExitAsync(timeout.Token);
        process.ExitCode.Should().Be(0, "the script printed {0}{1}", await stdout, await stderr);
    }

    private static JsonElement ReadJson(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Kestrel.Cloud.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException("Kestrel.Cloud.sln not found above " + AppContext.BaseDirectory);
    }
}
