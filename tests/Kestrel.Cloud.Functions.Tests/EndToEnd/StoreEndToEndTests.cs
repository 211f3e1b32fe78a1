using System.Net;
using System.Text.Json;
using Azure.Storage.Blobs;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.Tests.FunctionsHost;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing;
using Kestrel.Cloud.Testing.Azurite;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.EndToEnd;

/// <summary>A turn on the SQLite store (surviving a restart) and on the Azure Storage store (Azurite).</summary>
public sealed class SqliteStoreEndToEndTests
{
    /// <summary>
    /// Proves the SQLite agent stores: a wait-mode turn completes on <c>sqlite</c>, and a new server on the same data
    /// folder still has the run (status and final text), its whole event log and the session with its messages.
    /// </summary>
    [Fact]
    public async Task WaitModeTurnOnSqlite_NewServerOnSameDataPath_RunEventsAndSessionSurvive()
    {
        using var data = new TempDirectory("kestrel-e2e-sqlite");
        await using ScriptedServer model = await ScriptedServer.StartAsync().WaitAsync(EndToEndHost.Timeout);
        model.Enqueue(TurnWire.Text("Stored ", "answer."));
        void Sqlite(ServerHostOptions o)
        {
            o.DataPath = data.Path;
            o.Args.Add("--KestrelCloud:Durable:Store=sqlite");
        }

        string runId;
        List<SseFrame> before;
        await using (EndToEndHost first = await EndToEndHost.StartAsync(Sqlite, model))
        {
            first.Host.Store.Name.Should().Be("sqlite");
            JsonElement done = await (await first.PostMessageAsync("Remember this.", "mode=wait", "bob")).ShouldBeJsonAsync(HttpStatusCode.OK);
            done.GetProperty("finalText").GetString().Should().Be("Stored answer.");
            runId = done.GetProperty("runId").GetString()!;
            before = await first.ReadAllEventsAsync(runId);
        }

        File.Exists(Path.Join(data.Path, AgentStoreRegistration.SqliteFileName)).Should().BeTrue();
        await using EndToEndHost second = await EndToEndHost.StartAsync(Sqlite, model);

        JsonElement run = await second.GetRunAsync(runId);
        run.GetProperty("status").GetString().Should().Be("Completed");
        run.GetProperty("finalText").GetString().Should().Be("Stored answer.");
        List<SseFrame> after = await second.ReadAllEventsAsync(runId);
        after.Select(e => (e.Id, e.Event, e.Data)).Should().Equal(before.Select(e => (e.Id, e.Event, e.Data)));
        after[^1].Event.Should().Be("run.finished");
        JsonElement session = await (await second.Client.GetAsync("/api/sessions/default/bob", EndToEndHost.Deadline())).ShouldBeJsonAsync(HttpStatusCode.OK);
        session.GetProperty("messageCount").GetInt32().Should().Be(2);
        session.GetProperty("messages").GetRawText().Should().Contain("Remember this.").And.Contain("Stored answer.");
        model.Requests.Should().HaveCount(1, "the second server only reads");
    }
}

/// <summary>A turn on the Azure Storage store against Azurite, with its own task hub.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureStorageStoreEndToEndTests
{
    private readonly AzuriteFixture azurite;

    public AzureStorageStoreEndToEndTests(AzuriteFixture azurite) => this.azurite = azurite;

    /// <summary>
    /// Proves the Azure agent stores and the blob workspace: the default agent is created as blobs of the task hub's
    /// agents container (not in the local data folder), a wait-mode turn completes, and its event log and session are
    /// blobs that the API reads back.
    /// </summary>
    [Fact]
    public async Task WaitModeTurnOnAzureStorage_AgentRunLogAndSessionLiveInBlobs()
    {
        string hub = "e2e" + Guid.NewGuid().ToString("N")[..12];
        await using EndToEndHost e2e = await EndToEndHost.StartAsync(o =>
        {
            o.Args.Add("--KestrelCloud:Durable:Store=azure-storage");
            o.Args.Add($"--AzureWebJobsStorage={this.azurite.ConnectionString}");
            o.Args.Add($"--KestrelCloudTaskHub={hub}");
            o.ConfigureServices = s => s.PostConfigure<AzureStorageStoreOptions>(a => a.MaxWakeUpDelay = TimeSpan.Zero);
        });
        e2e.Host.Store.Name.Should().Be("azure-storage");
        var blobs = new BlobServiceClient(this.azurite.ConnectionString);
        e2e.Model.Enqueue(TurnWire.Text("Hello from ", "the cloud."));

        JsonElement done = await (await e2e.PostMessageAsync("Hi", "mode=wait", "carol")).ShouldBeJsonAsync(HttpStatusCode.OK);

        done.GetProperty("status").GetString().Should().Be("Completed");
        done.GetProperty("finalText").GetString().Should().Be("Hello from the cloud.");
        string runId = done.GetProperty("runId").GetString()!;
        (await blobs.GetBlobContainerClient($"{hub}-agents").GetBlobClient("default/AGENT.md").ExistsAsync(EndToEndHost.Deadline())).Value
            .Should().BeTrue("the default agent is created in the blob workspace");
        Directory.Exists(Path.Join(e2e.Host.DataPath, "agents", "default")).Should().BeFalse("the local folder is not the workspace on azure-storage");
        JsonElement agents = await (await e2e.Client.GetAsync("/api/agents", EndToEndHost.Deadline())).ShouldBeJsonAsync(HttpStatusCode.OK);
        agents.GetProperty("agents").EnumerateArray().Select(a => a.GetProperty("name").GetString()).Should().Contain("default");
        (await CountBlobsAsync(blobs, $"{hub}-runs")).Should().Be(1, "one append blob per run");
        (await CountBlobsAsync(blobs, $"{hub}-sessions")).Should().Be(1, "one blob per session");
        List<SseFrame> events = await e2e.ReadAllEventsAsync(runId);
        events.Select(e => e.Event).Should().StartWith("run.started").And.EndWith("run.finished");
        JsonElement session = await (await e2e.Client.GetAsync("/api/sessions/default/carol", EndToEndHost.Deadline())).ShouldBeJsonAsync(HttpStatusCode.OK);
        session.GetProperty("messages").GetRawText().Should().Contain("Hello from the cloud.");
    }

    private static async Task<int> CountBlobsAsync(BlobServiceClient blobs, string container) =>
        await blobs.GetBlobContainerClient(container).GetBlobsAsync(cancellationToken: EndToEndHost.Deadline()).CountAsync();
}
