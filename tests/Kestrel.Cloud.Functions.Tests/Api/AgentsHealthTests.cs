using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Functions.Api;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class AgentsHealthTests
{
    [Fact]
    public async Task Health_NoProvider_ReportsProviderNotConfiguredWithTheVariables_AndStaysHealthy()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.Args.AddRange(AgentsApiHost.NoProviderArgs));

        JsonElement body = await (await host.Anonymous.GetAsync("/api/health")).ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("status").GetString().Should().Be("Healthy", "a server without a provider still serves everything else");
        JsonElement provider = body.GetProperty("components").GetProperty("provider");
        provider.GetProperty("status").GetString().Should().Be("NotConfigured");
        provider.GetProperty("configured").GetBoolean().Should().BeFalse();
        provider.GetProperty("environmentVariables").EnumerateArray().Select(e => e.GetString()).Should().Contain(new[] { "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_ENDPOINT" });
        provider.GetProperty("detail").GetString().Should().Contain("OPENAI_API_KEY");
        JsonElement agents = body.GetProperty("components").GetProperty("agents");
        agents.GetProperty("status").GetString().Should().Be("Healthy");
        agents.GetProperty("reachable").GetBoolean().Should().BeTrue();
        agents.GetProperty("count").GetInt32().Should().Be(1, "the default agent is created at start-up");
        body.GetProperty("components").GetProperty("store").GetProperty("reachable").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task Health_ProviderFromEnvironmentVariable_ReportsItConfigured()
    {
        await using ServerHost host = await ServerHost.StartAsync(o =>
        {
            o.Args.AddRange(AgentsApiHost.NoProviderArgs);
            o.Args.Add("--ANTHROPIC_API_KEY=sk-ant-test");
        });

        JsonElement body = await (await host.Anonymous.GetAsync("/api/health")).ShouldBeJsonAsync(HttpStatusCode.OK);

        JsonElement provider = body.GetProperty("components").GetProperty("provider");
        provider.GetProperty("status").GetString().Should().Be("Healthy");
        provider.GetProperty("providers").EnumerateArray().Select(e => e.GetString()).Should().Equal("anthropic");
        provider.GetProperty("defaultProvider").GetString().Should().Be("anthropic");
    }

    [Fact]
    public async Task Health_ARegisteredComponentIsUnhealthy_Returns503AndShowsIt()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.ConfigureServices = s =>
            s.AddSingleton<IHealthComponent>(new StubComponent("mcp", HealthState.Unhealthy)));

        JsonElement body = await (await host.Anonymous.GetAsync("/api/health")).ShouldBeJsonAsync(HttpStatusCode.ServiceUnavailable);

        body.GetProperty("status").GetString().Should().Be("Unhealthy");
        JsonElement mcp = body.GetProperty("components").GetProperty("mcp");
        mcp.GetProperty("status").GetString().Should().Be("Unhealthy");
        mcp.GetProperty("servers").GetInt32().Should().Be(2);
    }

    private sealed class StubComponent(string name, HealthState state) : IHealthComponent
    {
        public string Name => name;

        public Task<HealthComponentReport> CheckAsync(CancellationToken cancellationToken) =>
            Task.FromResult(new HealthComponentReport(state, new Dictionary<string, object?> { ["servers"] = 2 }));
    }
}
