using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Functions.Samples;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing.Azurite;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.FunctionsHost;

/// <summary>The same app standalone with only <c>AzureWebJobsStorage</c> set: Azure Storage and its own dispatcher.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class StandaloneAzureStorageTests
{
    private readonly AzuriteFixture azurite;

    public StandaloneAzureStorageTests(AzuriteFixture azurite) => this.azurite = azurite;

    [Fact]
    public async Task StartOrchestration_AzureWebJobsStorageSetStandalone_CompletesOnAzureStorageWithOwnDispatcher()
    {
        string hub = "sa" + Guid.NewGuid().ToString("N")[..12];
        await using ServerHost host = await ServerHost.StartAsync(o =>
        {
            o.UseAzureWebJobsStorage(this.azurite.ConnectionString, hub);
            o.ConfigureServices = s => s.PostConfigure<AzureStorageStoreOptions>(a => a.MaxWakeUpDelay = TimeSpan.Zero);
        });

        JsonElement started = await (await host.Client.PostAsync($"/api/orchestrators/{HelloSequence.Name}", null)).ShouldBeJsonAsync(HttpStatusCode.Accepted);
        OrchestrationMetadata done = await host.WaitForCompletionAsync(started.GetProperty("id").GetString()!);

        host.Store.Name.Should().Be("azure-storage");
        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        done.SerializedOutput.Should().Contain("London");
    }
}
