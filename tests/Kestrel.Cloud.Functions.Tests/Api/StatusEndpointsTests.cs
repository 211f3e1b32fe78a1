using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class StatusEndpointsTests
{
    [Fact]
    public async Task GetRoot_NoApiKey_ReturnsNameVersionAndLinks()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        JsonElement body = await (await host.Anonymous.GetAsync("/")).ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("name").GetString().Should().Be("Kestrel.Cloud");
        body.GetProperty("version").GetString().Should().NotBeNullOrEmpty();
        body.GetProperty("links").GetProperty("health").GetString().Should().Be("/api/health");
        body.GetProperty("links").GetProperty("instances").GetString().Should().Be("/api/instances");
    }

    [Fact]
    public async Task GetHealth_NoApiKey_ReportsStoreAndDispatcherHealthy()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        JsonElement body = await (await host.Anonymous.GetAsync("/api/health")).ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("status").GetString().Should().Be("Healthy");
        JsonElement store = body.GetProperty("components").GetProperty("store");
        store.GetProperty("name").GetString().Should().Be("in-memory");
        store.GetProperty("reachable").GetBoolean().Should().BeTrue();
        body.GetProperty("components").GetProperty("dispatcher").GetProperty("running").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task GetHealth_StoreThrows_Returns503WithStoreUnreachableAndNoErrorText()
    {
        FaultyStore? store = null;
        await using ServerHost host = await ServerHost.StartAsync(o => o.ConfigureServices = s =>
            s.AddSingleton<IOrchestrationStore>(sp => store = new FaultyStore(sp.GetRequiredService<TimeProvider>())));
        store!.ClientReadFailure = new IOException("disk on fire at /secret/path");

        HttpResponseMessage response = await host.Anonymous.GetAsync("/api/health");

        string text = await response.Content.ReadAsStringAsync();
        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.ServiceUnavailable);
        body.GetProperty("status").GetString().Should().Be("Unhealthy");
        body.GetProperty("components").GetProperty("store").GetProperty("reachable").GetBoolean().Should().BeFalse();
        body.GetProperty("components").GetProperty("store").GetProperty("status").GetString().Should().Be("Unhealthy");
        text.Should().NotContain("/secret/path");
        host.Logs.WithEventId(2021).Should().ContainSingle().Which.Exception.Should().BeOfType<IOException>();
    }

    [Fact]
    public async Task GetReady_Started_Returns200()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        JsonElement body = await (await host.Anonymous.GetAsync("/api/ready")).ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("ready").GetBoolean().Should().BeTrue();
        body.GetProperty("storeInitialized").GetBoolean().Should().BeTrue();
        body.GetProperty("dispatcherRunning").GetBoolean().Should().BeTrue();
        body.GetProperty("waitingFor").GetArrayLength().Should().Be(0);
    }

    [Fact]
    public async Task GetReady_DispatcherNotRegistered_Returns503NamingTheDispatcher()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.ConfigureServices = RemoveDispatcher);

        HttpResponseMessage ready = await host.Anonymous.GetAsync("/api/ready");
        HttpResponseMessage health = await host.Anonymous.GetAsync("/api/health");

        JsonElement body = await ready.ShouldBeJsonAsync(HttpStatusCode.ServiceUnavailable);
        body.GetProperty("ready").GetBoolean().Should().BeFalse();
        body.GetProperty("storeInitialized").GetBoolean().Should().BeTrue();
        body.GetProperty("waitingFor").EnumerateArray().Select(e => e.GetString()).Should().Equal("the durable dispatcher is not running");
        JsonElement healthBody = await health.ShouldBeJsonAsync(HttpStatusCode.ServiceUnavailable);
        healthBody.GetProperty("components").GetProperty("dispatcher").GetProperty("running").GetBoolean().Should().BeFalse();
    }

    [Fact]
    public async Task GetUnknownRoute_WithApiKey_Returns404Problem()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        JsonElement problem = await (await host.Client.GetAsync("/api/nothing-here")).ShouldBeProblemAsync(HttpStatusCode.NotFound, "http-error");

        problem.Detail().Should().Contain("No route matches this path");
    }

    private static void RemoveDispatcher(IServiceCollection services)
    {
        // AddHostedService(factory) keeps the factory's return type in the delegate's type.
        ServiceDescriptor dispatcher = services.Single(d => d.ServiceType == typeof(IHostedService)
            && d.ImplementationFactory?.GetType().GenericTypeArguments.LastOrDefault() == typeof(DurableTaskWorkerService));
        services.Remove(dispatcher);
    }
}
