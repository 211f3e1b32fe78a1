using Kestrel.Cloud.Agents.Storage.AzureStorage;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.FunctionsHost;
using Kestrel.Cloud.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kestrel.Cloud.Functions.Tests.Composition;

/// <summary>Which store and which dispatcher the settings choose; no store is contacted.</summary>
public class DurableStoreSelectionTests
{
    private const string Azurite = "UseDevelopmentStorage=true";

    [Fact]
    public void Resolve_NothingSet_ChoosesSqlite()
    {
        DurableStoreRegistration.Resolve(null, Settings()).Should().Be(DurableStoreRegistration.Sqlite);
    }

    [Fact]
    public void Resolve_AzureWebJobsStorageConnectionString_ChoosesAzureStorage()
    {
        DurableStoreRegistration.Resolve("", Settings(("AzureWebJobsStorage", Azurite))).Should().Be(DurableStoreRegistration.AzureStorage);
    }

    [Theory]
    [InlineData("AzureWebJobsStorage__blobServiceUri")]
    [InlineData("AzureWebJobsStorage:queueServiceUri")]
    [InlineData("AzureWebJobsStorage__accountName")]
    public void Resolve_IdentityBasedStorageSetting_ChoosesAzureStorage(string key)
    {
        DurableStoreRegistration.Resolve(null, Settings((key, "https://acct.blob.core.windows.net"))).Should().Be(DurableStoreRegistration.AzureStorage);
    }

    [Theory]
    [InlineData("sqlite", DurableStoreRegistration.Sqlite)]
    [InlineData(" Memory ", DurableStoreRegistration.Memory)]
    public void Resolve_ExplicitStoreWithAzureWebJobsStorageSet_ExplicitStoreWins(string configured, string expected)
    {
        DurableStoreRegistration.Resolve(configured, Settings(("AzureWebJobsStorage", Azurite))).Should().Be(expected);
    }

    [Fact]
    public void Resolve_AzureStorageWithoutSettings_ThrowsNamingTheSetting()
    {
        Action act = () => DurableStoreRegistration.Resolve("azure-storage", Settings());

        act.Should().Throw<InvalidOperationException>()
            .WithMessage("KestrelCloud:Durable:Store is 'azure-storage' but AzureWebJobsStorage is not set;*");
    }

    [Theory]
    [InlineData(DurableStoreRegistration.AzureStorage, true, false)]
    [InlineData(DurableStoreRegistration.AzureStorage, false, true)]
    [InlineData(DurableStoreRegistration.Sqlite, true, true)]
    [InlineData(DurableStoreRegistration.Sqlite, false, true)]
    [InlineData(DurableStoreRegistration.Memory, true, true)]
    public void UsesInProcessDispatcher_StoreAndHost_OnlyAzureStorageUnderTheHostLeavesItToTriggers(string store, bool underHost, bool expected)
    {
        DurableStoreRegistration.UsesInProcessDispatcher(store, underHost).Should().Be(expected);
    }

    [Fact]
    public async Task Build_AzureWebJobsStorageSetStandalone_UsesAzureStoreAndItsOwnDispatcher()
    {
        using var data = new TempDirectory();
        await using WebApplication app = KestrelCloudApp.Build(Args(data, "--AzureWebJobsStorage=" + Azurite, "--KestrelCloudTaskHub=selectiontest"));

        app.Services.GetRequiredService<IOrchestrationStore>().Should().BeOfType<AzureStorageOrchestrationStore>()
            .Which.ControlQueueName.Should().Be("selectiontest-control");
        app.Services.GetServices<IHostedService>().OfType<DurableTaskWorkerService>().Should().ContainSingle();
        app.Services.GetServices<IHostedService>().OfType<HousekeepingService>().Should().ContainSingle("standalone, nothing else sweeps the Azure store");
    }

    [Theory]
    [InlineData("--KestrelCloudTaskHub= selectiontest ", "selectiontest")]
    [InlineData("--KestrelCloudTaskHub=", "kestrelcloud")]
    public async Task Build_AzureStorage_EngineAndAgentStoresUseTheSameTaskHub(string setting, string expected)
    {
        using var data = new TempDirectory();
        await using WebApplication app = KestrelCloudApp.Build(Args(data, "--AzureWebJobsStorage=" + Azurite, setting));

        app.Services.GetRequiredService<IOrchestrationStore>().Should().BeOfType<AzureStorageOrchestrationStore>()
            .Which.ControlQueueName.Should().Be($"{expected}-control");
        AgentBlobStorage agents = app.Services.GetRequiredService<AgentBlobStorage>();
        agents.TaskHub.Should().Be(expected);
        agents.Client.AccountName.Should().Be("devstoreaccount1", "the agent stores use the engine's AzureWebJobsStorage account");
    }

    [Fact]
    public async Task Build_AzureWebJobsStorageSetUnderFunctionsHost_RunsNoDispatcher()
    {
        using var data = new TempDirectory();
        await using WebApplication app = KestrelCloudApp.Build(Args(data, "--AzureWebJobsStorage=" + Azurite, $"--FUNCTIONS_CUSTOMHANDLER_PORT={TestPorts.GetFreeTcpPort()}"));

        app.Services.GetRequiredService<IOrchestrationStore>().Should().BeOfType<AzureStorageOrchestrationStore>();
        app.Services.GetServices<IHostedService>().OfType<DurableTaskWorkerService>().Should().BeEmpty();
        app.Services.GetServices<IHostedService>().OfType<HousekeepingService>().Should().BeEmpty("the timer trigger runs housekeeping");
    }

    [Fact]
    public async Task Build_NothingSet_UsesSqliteAndItsOwnDispatcher()
    {
        using var data = new TempDirectory();
        await using WebApplication app = KestrelCloudApp.Build(Args(data));

        app.Services.GetRequiredService<IOrchestrationStore>().Name.Should().Be("sqlite");
        app.Services.GetServices<IHostedService>().OfType<DurableTaskWorkerService>().Should().ContainSingle();
    }

    private static string[] Args(TempDirectory data, params string[] extra) =>
        new[] { $"--KestrelCloud:DataPath={data.Path}", "--KestrelCloud:ApiKeys:0=test-key-0123456789abcdef" }.Concat(extra).ToArray();

    private static Func<string, string?> Settings(params (string Key, string Value)[] values) =>
        key => values.FirstOrDefault(v => v.Key == key).Value;
}
