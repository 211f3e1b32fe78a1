using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Testing.Scripted;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>A turn in a real host: hosted services, the in-process dispatcher and the system clock.</summary>
public sealed class HostedTurnTests
{
    /// <summary>
    /// Proves the composition end to end: starting the host creates the <c>default</c> agent, and a run on it through
    /// the in-process dispatcher calls a read-only workspace tool the default policy allows and completes.
    /// </summary>
    [Fact]
    public async Task Host_DefaultAgentTurn_CompletesThroughDispatcher()
    {
        await using ScriptedServer server = await ScriptedServer.StartAsync();
        using var temp = new TempDirectory("kestrel-hosted");
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KestrelCloud:Agents:WorkspacePath"] = temp.Path,
            ["KestrelCloud:Models:DefaultProvider"] = "scripted",
            ["KestrelCloud:Models:Providers:scripted:Type"] = "openai",
            ["KestrelCloud:Models:Providers:scripted:BaseUrl"] = new Uri(server.BaseUri, "v1").ToString(),
            ["KestrelCloud:Models:Providers:scripted:ApiKeys:0"] = "sk-test",
            ["KestrelCloud:Models:Providers:scripted:DefaultModel"] = "gpt-test",
        });
        builder.Services.AddKestrelAgents(builder.Configuration);
        builder.Services.AddDurableTaskInMemoryStore();
        builder.Services.AddDurableTaskDispatcher();
        using IHost host = builder.Build();
        await host.StartAsync();
        try
        {
            File.Exists(Path.Join(temp.Path, "default", "AGENT.md")).Should().BeTrue("the default agent is created at start");
            Directory.CreateDirectory(Path.Join(temp.Path, "default", "files"));
            File.WriteAllText(Path.Join(temp.Path, "default", "files", "notes.txt"), "remember the milk");
            server.Enqueue(TurnWire.Tools(null, ("r1", "files_read", """{"path":"notes.txt"}""")), TurnWire.Text("Your note says: remember the milk."));
            IAgentRunService runs = host.Services.GetRequiredService<IAgentRunService>();

            RunInfo started = await runs.StartAsync(new StartRunRequest("default", "What does my note say?"));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            RunInfo done = await runs.WaitForCompletionAsync(started.RunId, timeout.Token);

            done.Status.Should().Be(RunStatus.Completed);
            done.FinalText.Should().Be("Your note says: remember the milk.");
            TurnWire.Messages(server.Requests[1]).Single(m => m.Role == "tool").Text.Should().Contain("remember the milk");
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
