using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Storage.AzureStorage;
using Kestrel.Cloud.Agents.Storage.Tests.Contracts;
using Kestrel.Cloud.Testing.Azurite;

namespace Kestrel.Cloud.Agents.Storage.Tests.AzureStorage;

[Collection(AzuriteCollection.Name)]
public sealed class BlobRunEventLogTests(AzuriteFixture azurite) : DurableRunEventLogContract
{
    private readonly string taskHub = AzuriteCollection.NewTaskHub();

    private AgentBlobStorage NewStorage() => new(AzuriteCollection.Client(azurite), this.taskHub, this.Clock);

    protected override Task<IRunEventLog> CreateLogAsync() => Task.FromResult<IRunEventLog>(new BlobRunEventLog(this.NewStorage()));

    protected override Task<IRunEventLog> OpenSecondInstanceAsync() => Task.FromResult<IRunEventLog>(new BlobRunEventLog(this.NewStorage()));

    [Fact]
    public async Task AppendAsync_StoresOneAppendBlobPerRunInTheRunsContainer()
    {
        await this.Log.AppendAsync("run-1", [Event("a"), Event("b")]);
        await this.Log.AppendAsync("run-1", [Event("c")]);

        BlobContainerClient container = AzuriteCollection.Client(azurite).GetBlobContainerClient($"{this.taskHub}-runs");
        BlobItem blob = (await container.GetBlobsAsync().ToListAsync()).Should().ContainSingle().Subject;
        blob.Name.Should().Be("run-1.jsonl");
        blob.Properties.BlobType.Should().Be(BlobType.Append);
        string text = (await container.GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToString();
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(3);
    }

    [Fact]
    public async Task ReadAsync_UnchangedLog_AnsweredWithoutBody_ChangedByAnotherInstance_ReadAgain()
    {
        var statuses = new System.Collections.Concurrent.ConcurrentQueue<(string Method, int Status)>();
        var options = new BlobClientOptions();
        options.AddPolicy(new StatusRecorder(statuses), Azure.Core.HttpPipelinePosition.PerRetry);
        azurite.ThrowIfExited();
        var log = new BlobRunEventLog(new AgentBlobStorage(new BlobServiceClient(azurite.ConnectionString, options), this.taskHub, this.Clock));
        await log.AppendAsync("run-1", [Event("a")]);
        (await log.ReadAsync("run-1", 0)).Should().ContainSingle();
        statuses.Clear();

        (await log.ReadAsync("run-1", 0)).Should().ContainSingle();

        statuses.Where(s => s.Method == "GET").Select(s => s.Status).Should().Equal(304);
        await this.Log.AppendAsync("run-1", [Event("b")]);
        (await log.ReadAsync("run-1", 0)).Select(e => e.Sequence).Should().Equal(1, 2);
        await this.Log.DeleteAsync("run-1");
        (await log.ReadAsync("run-1", 0)).Should().BeEmpty();
        await this.Log.AppendAsync("run-1", [Event("c")]);
        (await log.ReadAsync("run-1", 0)).Should().ContainSingle().Which.Sequence.Should().Be(1);
        (await log.AppendAsync("run-1", [Event("a")])).Should().Be(2, "the cached copy of the deleted log is not used");
    }

    private sealed class StatusRecorder(System.Collections.Concurrent.ConcurrentQueue<(string, int)> statuses) : Azure.Core.Pipeline.HttpPipelineSynchronousPolicy
    {
        public override void OnReceivedResponse(Azure.Core.HttpMessage message) =>
            statuses.Enqueue((message.Request.Method.Method, message.Response.Status));
    }

    [Fact]
    public async Task AppendAsync_BatchLargerThanOneBlock_RefusedAndNothingAppended()
    {
        string text = new('x', 60_000);
        var batch = Enumerable.Range(0, 80).Select(i => Event($"e{i}", text: text)).ToList();

        Func<Task> append = () => this.Log.AppendAsync("run-1", batch);

        (await append.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("one append may be at most 4194304 bytes");
        (await this.Log.ReadAsync("run-1", 0)).Should().BeEmpty();
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class BlobSessionStoreTests(AzuriteFixture azurite) : DurableSessionStoreContract
{
    private readonly string taskHub = AzuriteCollection.NewTaskHub();

    private AgentBlobStorage NewStorage() => new(AzuriteCollection.Client(azurite), this.taskHub, this.Clock);

    protected override Task<ISessionStore> CreateStoreAsync() => Task.FromResult<ISessionStore>(new BlobSessionStore(this.NewStorage()));

    protected override Task<ISessionStore> OpenSecondInstanceAsync() => Task.FromResult<ISessionStore>(new BlobSessionStore(this.NewStorage()));

    [Fact]
    public void BlobName_HexOfAgentAndKey_SortsLikeTheText()
    {
        BlobSessionStore.BlobName("alpha", "k1").Should().Be("616c706861/6b31");
        string.CompareOrdinal(BlobSessionStore.BlobName("alpha", "z"), BlobSessionStore.BlobName("alpha-2", "a")).Should().BeNegative();
        string.CompareOrdinal(BlobSessionStore.BlobName("a", "k.1"), BlobSessionStore.BlobName("a", "k1")).Should().BeNegative();
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class BlobApprovalLinkLedgerTests(AzuriteFixture azurite) : DurableApprovalLinkLedgerContract
{
    private readonly string taskHub = AzuriteCollection.NewTaskHub();

    private AgentBlobStorage NewStorage() => new(AzuriteCollection.Client(azurite), this.taskHub, this.Clock);

    protected override Task<IApprovalLinkLedger> CreateLedgerAsync() => Task.FromResult<IApprovalLinkLedger>(new BlobApprovalLinkLedger(this.NewStorage()));

    protected override Task<IApprovalLinkLedger> OpenSecondInstanceAsync() => Task.FromResult<IApprovalLinkLedger>(new BlobApprovalLinkLedger(this.NewStorage()));
}

[Collection(AzuriteCollection.Name)]
public sealed class BlobAgentWorkspaceTests(AzuriteFixture azurite) : AgentWorkspaceContract
{
    private readonly string taskHub = AzuriteCollection.NewTaskHub();

    private AgentBlobStorage NewStorage() => new(AzuriteCollection.Client(azurite), this.taskHub);

    protected override Task<IAgentWorkspace> CreateWorkspaceAsync() => Task.FromResult<IAgentWorkspace>(new BlobAgentWorkspace(this.NewStorage()));

    protected override Task<IAgentWorkspace> OpenSecondInstanceAsync() => Task.FromResult<IAgentWorkspace>(new BlobAgentWorkspace(this.NewStorage()));

    [Fact]
    public async Task CreateAgentAsync_WritesBlobsNamedLikeTheLocalFolder()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent, "Tips."));
        await this.Workspace.WriteFileAsync("helper", "./memory//notes.md", "# Notes");

        BlobContainerClient container = AzuriteCollection.Client(azurite).GetBlobContainerClient($"{this.taskHub}-agents");
        (await container.GetBlobsAsync().Select(b => b.Name).ToListAsync()).Should().BeEquivalentTo("helper/AGENT.md", "helper/TOOLS.md", "helper/memory/notes.md");
    }

    [Fact]
    public async Task GetAgentAsync_BlobWithoutValidFolderName_NotListed()
    {
        BlobContainerClient container = await this.NewStorage().GetContainerAsync($"{this.taskHub}-agents");
        await container.UploadBlobAsync("Bad_Name/AGENT.md", BinaryData.FromString("Hi."));
        await container.UploadBlobAsync("no-agent-md/TOOLS.md", BinaryData.FromString("Hi."));
        await this.Workspace.CreateAgentAsync("alpha", new AgentFiles(ValidAgent));

        (await this.Workspace.ListAgentNamesAsync()).Should().Equal("alpha");
    }
}

public sealed class AgentBlobStorageTests
{
    [Theory]
    [InlineData("ab")]
    [InlineData("Upper")]
    [InlineData("with-dash")]
    [InlineData("")]
    public void Constructor_InvalidTaskHub_ThrowsWithRule(string taskHub)
    {
        var client = new BlobServiceClient("UseDevelopmentStorage=true");

        Action create = () => _ = new AgentBlobStorage(client, taskHub);

        create.Should().Throw<ArgumentException>().Which.Message.Should().StartWith($"The task hub name '{taskHub}' is not valid: use 3 to 45 lowercase letters or digits");
    }

    [Fact]
    public void ContainerNames_DerivedFromTaskHub()
    {
        var storage = new AgentBlobStorage(new BlobServiceClient("UseDevelopmentStorage=true"), "myhub");

        new[] { storage.RunsContainerName, storage.SessionsContainerName, storage.ApprovalsContainerName, storage.AgentsContainerName }
            .Should().Equal("myhub-runs", "myhub-sessions", "myhub-approvals", "myhub-agents");
    }

    [Fact]
    public void EscapeId_KeepsSafeCharactersAndHashesLongIds()
    {
        AgentBlobStorage.EscapeId("run_1-A").Should().Be("run_1-A");
        AgentBlobStorage.EscapeId("a/b.c").Should().Be("a~2Fb~2Ec");
        AgentBlobStorage.EscapeId(new string('x', 201)).Should().StartWith("~~").And.HaveLength(42);
    }
}

public sealed class AgentBlobStorageUnreachableTests
{
    [Fact]
    public async Task GetContainerAsync_StorageUnreachable_FailsAndTriesAgainOnTheNextCall()
    {
        // A loopback port with no listener: every request fails fast; the failure must not be cached.
        int port = Kestrel.Cloud.Testing.TestPorts.GetFreeTcpPort();
        var calls = 0;
        var options = new BlobClientOptions { Retry = { MaxRetries = 0 } };
        options.AddPolicy(new CountingPolicy(() => Interlocked.Increment(ref calls)), Azure.Core.HttpPipelinePosition.PerCall);
        var client = new BlobServiceClient(
            new Uri($"http://127.0.0.1:{port}/{AzuriteFixture.AccountName}"),
            new Azure.Storage.StorageSharedKeyCredential(AzuriteFixture.AccountName, AzuriteFixture.AccountKey),
            options);
        var storage = new AgentBlobStorage(client, "myhub");

        Func<Task> first = () => storage.GetContainerAsync(storage.RunsContainerName);
        await first.Should().ThrowAsync<Exception>();
        int afterFirst = calls;
        await first.Should().ThrowAsync<Exception>();

        calls.Should().BeGreaterThan(afterFirst, "the second call reached the network again");
    }

    private sealed class CountingPolicy(Action onCall) : Azure.Core.Pipeline.HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(Azure.Core.HttpMessage message) => onCall();
    }
}
