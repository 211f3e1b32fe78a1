using System.Net;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Functions.Samples;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.FunctionsHost;

/// <summary>The timer trigger's housekeeping and where the trigger endpoints exist; the memory store, no Azurite.</summary>
public sealed class HousekeepingAndRoutingTests
{
    [Fact]
    public async Task Housekeeping_FinishedInstanceOlderThanRetention_PurgesIt()
    {
        await using ServerHost host = await ServerHost.StartAsync(o =>
        {
            o.UnderFunctionsHost();
            o.Args.Add("--KestrelCloud:Housekeeping:CompletedInstanceRetention=1.00:00:00");
        });
        string old = await host.DurableClient.ScheduleNewOrchestrationInstanceAsync(HelloSequence.Name);
        await host.WaitForCompletionAsync(old);
        host.Clock.Advance(TimeSpan.FromDays(2));
        string recent = await host.DurableClient.ScheduleNewOrchestrationInstanceAsync(HelloSequence.Name);
        await host.WaitForCompletionAsync(recent);

        HttpResponseMessage response = await host.InvokeHousekeepingAsync();

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.OK);
        body.GetProperty("Logs")[0].GetString().Should().Be("Housekeeping: 0 wake-up(s) sent, 1 finished instance(s) purged, 0 expired approval link(s) forgotten.");
        (await host.DurableClient.GetInstanceAsync(old)).Should().BeNull();
        (await host.DurableClient.GetInstanceAsync(recent)).Should().NotBeNull();
    }

    [Fact]
    public async Task Housekeeping_RetentionZero_PurgesNothing()
    {
        await using ServerHost host = await ServerHost.StartAsync(o =>
        {
            o.UnderFunctionsHost();
            o.Args.Add("--KestrelCloud:Housekeeping:CompletedInstanceRetention=00:00:00");
        });
        string old = await host.DurableClient.ScheduleNewOrchestrationInstanceAsync(HelloSequence.Name);
        await host.WaitForCompletionAsync(old);
        host.Clock.Advance(TimeSpan.FromDays(2));

        HttpResponseMessage response = await host.InvokeHousekeepingAsync();

        (await response.ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("Logs")[0].GetString().Should().Contain("0 finished instance(s) purged");
        (await host.DurableClient.GetInstanceAsync(old)).Should().NotBeNull();
    }

    [Fact]
    public async Task Housekeeping_ApprovalLinkExpiredOverAnHourAgo_IsForgottenWhileALiveOneStays()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.UnderFunctionsHost());
        IApprovalLinkLedger ledger = host.App.Services.GetRequiredService<IApprovalLinkLedger>();
        DateTimeOffset start = host.Clock.GetUtcNow();
        (await ledger.TryConsumeAsync("run-1/call-1", start.AddMinutes(10))).Should().BeTrue();
        (await ledger.TryConsumeAsync("run-2/call-1", start.AddDays(1))).Should().BeTrue();
        host.Clock.Advance(TimeSpan.FromHours(2));

        HttpResponseMessage response = await host.InvokeHousekeepingAsync();

        (await response.ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("Logs")[0].GetString().Should().EndWith(", 1 expired approval link(s) forgotten.");
        (await ledger.TryConsumeAsync("run-1/call-1", host.Clock.GetUtcNow().AddHours(1))).Should().BeTrue("housekeeping forgot the expired entry");
        (await ledger.TryConsumeAsync("run-2/call-1", host.Clock.GetUtcNow().AddHours(1))).Should().BeFalse("an entry whose link is still valid stays");
    }

    [Theory]
    [InlineData("/ControlQueue")]
    [InlineData("/ActivityQueue")]
    [InlineData("/Housekeeping")]
    public async Task TriggerEndpoint_Standalone_IsNotMapped(string path)
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync(path, new StringContent(ServerHost.TimerPayload, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
