using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Turns;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kestrel.Cloud.Agents.Tests;

/// <summary>What AddKestrelAgents registers and validates.</summary>
public sealed class AgentsServiceCollectionExtensionsTests
{
    /// <summary>Proves the turn composes with the app's own AddDurableTask call, the tools include spawn, and the hosted service creates the default agent.</summary>
    [Fact]
    public async Task AddKestrelAgents_WithAppRegistrations_ComposesAndCreatesDefaultAgent()
    {
        using var temp = new TempDirectory();
        var services = new ServiceCollection();
        services.AddDurableTask(r => r.AddOrchestratorFunc<string, string>("AppOrchestration", (_, s) => Task.FromResult(s)));
        services.AddKestrelAgents(Config(("KestrelCloud:Agents:WorkspacePath", temp.Path)));
        services.AddKestrelAgents(Config(("KestrelCloud:Agents:WorkspacePath", temp.Path)));
        services.AddDurableTaskInMemoryStore();
        await using ServiceProvider provider = services.BuildServiceProvider();

        DurableTaskRegistry registry = provider.GetRequiredService<DurableTaskRegistry>();
        registry.OrchestratorNames.Should().BeEquivalentTo(new[] { "AppOrchestration", AgentTurnNames.Orchestration });
        registry.ActivityNames.Should().Contain(new[] { AgentTurnNames.LoadContext, AgentTurnNames.CallModel, AgentTurnNames.RunTool, AgentTurnNames.SaveSession, AgentTurnNames.Finish });
        registry.AddAgentTurns().Should().BeSameAs(registry, "a second AddAgentTurns leaves the registry alone");
        provider.GetRequiredService<ToolRegistry>().Tools.Select(t => t.Name).Should().Contain(new[] { "files_read", "http_fetch", "shell", SpawnTool.ToolName });
        provider.GetRequiredService<IAgentRunService>().Should().BeOfType<AgentRunService>();
        provider.GetRequiredService<RunStreamRegistry>().Should().BeSameAs(provider.GetRequiredService<RunStreamRegistry>(), "the turn activities share one registry");

        foreach (IHostedService hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(default);
        }

        (await provider.GetRequiredService<IAgentWorkspace>().ExistsAsync(AgentName.Default)).Should().BeTrue();
        provider.GetRequiredService<IAgentWorkspace>().Should().BeOfType<LocalAgentWorkspace>().Which.RootDirectory.Should().Be(temp.Path);
    }

    /// <summary>Proves every invalid KestrelCloud:Agents value is reported at once, each naming the key and the rule.</summary>
    [Fact]
    public void AddKestrelAgents_InvalidOptions_AllErrorsTogether()
    {
        var services = new ServiceCollection();

        Action add = () => services.AddKestrelAgents(Config(
            ("KestrelCloud:Agents:ApprovalTimeout", "00:00:00"),
            ("KestrelCloud:Agents:MaxSpawnDepth", "9"),
            ("KestrelCloud:Agents:DeltaBatchMaxChars", "0")));

        add.Should().Throw<ArgumentException>()
            .WithMessage("*ApprovalTimeout must be between 00:00:01 and 30.00:00:00*")
            .WithMessage("*MaxSpawnDepth must be between 0 and 5; it is 9*")
            .WithMessage("*DeltaBatchMaxChars must be between 1 and 16384; it is 0*");
    }

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
