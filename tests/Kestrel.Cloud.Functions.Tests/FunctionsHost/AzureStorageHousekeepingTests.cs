using System.Net;
using Azure.Storage.Blobs;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Storage.AzureStorage;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing.Azurite;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.FunctionsHost;

/// <summary>The timer trigger's housekeeping on the Azure Storage store (Azurite, its own task hub).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureStorageHousekeepingTests
{
    private readonly AzuriteFixture azurite;

    public AzureStorageHousekeepingTests(AzuriteFixture azurite) => this.azurite = azurite;

    /// <summary>Without housekeeping's purge the <c>{hub}-approvals</c> container keeps one blob per used link forever.</summary>
    [Fact]
    public async Task Housekeeping_ApprovalLinkBlobExpiredOverAnHourAgo_IsDeletedWhileALiveOneStays()
    {
        string hub = "hk" + Guid.NewGuid().ToString("N")[..12];
        await using ServerHost host = await ServerHost.StartAsync(o =>
        {
            o.UnderFunctionsHost();
            o.UseAzureWebJobsStorage(this.azurite.ConnectionString, hub);
        });
        IApprovalLinkLedger ledger = host.App.Services.GetRequiredService<IApprovalLinkLedger>();
        ledger.Should().BeOfType<BlobApprovalLinkLedger>();
        DateTimeOffset start = host.Clock.GetUtcNow();
        (await ledger.TryConsumeAsync("expired-link", start.AddMinutes(10))).Should().BeTrue();
        (await ledger.TryConsumeAsync("live-link", start.AddDays(1))).Should().BeTrue();
        host.Clock.Advance(TimeSpan.FromHours(2));

        HttpResponseMessage response = await host.InvokeHousekeepingAsync();

        (await response.ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("Logs")[0].GetString().Should().EndWith(", 1 expired approval link(s) forgotten.");
        BlobContainerClient approvals = new BlobServiceClient(this.azurite.ConnectionString).GetBlobContainerClient($"{hub}-approvals");
        (await approvals.GetBlobsAsync().Select(b => b.Name).ToListAsync()).Should().Equal("live-link");
    }
}
