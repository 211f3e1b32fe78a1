using Azure.Storage.Blobs;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Storage.AzureStorage;
using Kestrel.Cloud.Agents.Storage.Sqlite;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Agents.Storage.Tests;

public sealed class AgentStorageServiceCollectionExtensionsTests
{
    [Fact]
    public void AddInMemoryAgentStores_RegistersInMemorySingletons()
    {
        using ServiceProvider sp = new ServiceCollection().AddInMemoryAgentStores().BuildServiceProvider();

        sp.GetRequiredService<IRunEventLog>().Should().BeOfType<InMemoryRunEventLog>().And.BeSameAs(sp.GetRequiredService<IRunEventLog>());
        sp.GetRequiredService<ISessionStore>().Should().BeOfType<InMemorySessionStore>();
        sp.GetRequiredService<IApprovalLinkLedger>().Should().BeOfType<InMemoryApprovalLinkLedger>();
    }

    [Fact]
    public async Task AddSqliteAgentStores_ReplacesEarlierRegistrations_AndSharesOneDatabase()
    {
        using var temp = new TempDirectory();
        string path = Path.Join(temp.Path, "agents.db");
        var services = new ServiceCollection().AddInMemoryAgentStores().AddSqliteAgentStores(path);

        services.Count(d => d.ServiceType == typeof(IRunEventLog)).Should().Be(1);
        using (ServiceProvider sp = services.BuildServiceProvider())
        {
            sp.GetRequiredService<IRunEventLog>().Should().BeOfType<SqliteRunEventLog>();
            sp.GetRequiredService<ISessionStore>().Should().BeOfType<SqliteSessionStore>();
            sp.GetRequiredService<IApprovalLinkLedger>().Should().BeOfType<SqliteApprovalLinkLedger>();
            sp.GetRequiredService<SqliteAgentDatabase>().DatabasePath.Should().Be(path);
            await sp.GetRequiredService<IRunEventLog>().AppendAsync("run-1", [NewRunEvent.Create("a", "text", new { })]);
        }

        File.Exists(path).Should().BeTrue();
    }

    [Fact]
    public void AddAzureStorageAgentStores_ReplacesStoresAndWorkspace()
    {
        var services = new ServiceCollection()
            .AddSingleton<IAgentWorkspace>(new LocalAgentWorkspace(Path.Join(Path.GetTempPath(), "unused-" + Guid.NewGuid().ToString("N"))))
            .AddSqliteAgentStores("unused.db")
            .AddAzureStorageAgentStores(_ => new BlobServiceClient("UseDevelopmentStorage=true"), "myhub");

        services.Count(d => d.ServiceType == typeof(IAgentWorkspace)).Should().Be(1);
        using ServiceProvider sp = services.BuildServiceProvider();
        sp.GetRequiredService<IAgentWorkspace>().Should().BeOfType<BlobAgentWorkspace>();
        sp.GetRequiredService<IRunEventLog>().Should().BeOfType<BlobRunEventLog>();
        sp.GetRequiredService<ISessionStore>().Should().BeOfType<BlobSessionStore>();
        sp.GetRequiredService<IApprovalLinkLedger>().Should().BeOfType<BlobApprovalLinkLedger>();
        sp.GetRequiredService<AgentBlobStorage>().TaskHub.Should().Be("myhub");
    }

    [Fact]
    public void AddAzureStorageAgentStores_InvalidTaskHub_ThrowsAtRegistration()
    {
        Action add = () => new ServiceCollection().AddAzureStorageAgentStores(_ => new BlobServiceClient("UseDevelopmentStorage=true"), "Bad_Hub");

        add.Should().Throw<ArgumentException>().Which.Message.Should().Contain("'Bad_Hub' is not valid");
    }
}
