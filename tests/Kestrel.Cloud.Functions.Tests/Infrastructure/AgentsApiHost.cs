using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Runs;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.Infrastructure;

/// <summary>Starts the real server with a <see cref="FakeAgentRunService"/> as its run service.</summary>
public static class AgentsApiHost
{
    /// <summary>Starts a server whose run service is a fake over the app's real event log and link factory.</summary>
    public static async Task<(ServerHost Host, FakeAgentRunService Runs)> StartAsync(Action<ServerHostOptions>? configure = null)
    {
        ServerHost host = await ServerHost.StartAsync(o =>
        {
            configure?.Invoke(o);
            Action<IServiceCollection>? more = o.ConfigureServices;
            o.ConfigureServices = s =>
            {
                more?.Invoke(s);
                s.AddSingleton<IAgentRunService>(sp => new FakeAgentRunService(
                    sp.GetRequiredService<IRunEventLog>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IApprovalLinkFactory>()));
            };
        });
        return (host, (FakeAgentRunService)host.App.Services.GetRequiredService<IAgentRunService>());
    }

    /// <summary>Arguments that switch off every model provider the environment might configure.</summary>
    public static readonly string[] NoProviderArgs =
    {
        "--OPENAI_API_KEY=", "--OPENAI_BASE_URL=", "--ANTHROPIC_API_KEY=", "--AZURE_OPENAI_ENDPOINT=", "--AZURE_OPENAI_API_KEY=",
    };
}
