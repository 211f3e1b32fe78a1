using Kestrel.Cloud.Durable;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>Registers the agent turn with the engine.</summary>
public static class AgentTurnRegistryExtensions
{
    /// <summary>
    /// Adds the <c>AgentTurn</c> orchestration and its activities (<see cref="AgentTurnNames"/>). Safe to call more than
    /// once: a registry that already has them is left alone. <c>AddKestrelAgents</c> calls it through
    /// <c>AddDurableTask</c>; call it yourself only when composing the engine by hand. The activities resolve what
    /// <c>AddKestrelAgents</c> registers: <see cref="Definitions.IAgentWorkspace"/>, <see cref="Sessions.ISessionStore"/>,
    /// <see cref="Runs.IRunEventLog"/>, the <see cref="AgentRuntimeOptions"/>, <see cref="Tools.ToolRegistry"/>,
    /// <see cref="Providers.ChatClientFactory"/> and one <see cref="RunStreamRegistry"/> singleton.
    /// </summary>
    public static DurableTaskRegistry AddAgentTurns(this DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        if (registry.FindOrchestratorName(AgentTurnNames.Orchestration) is not null)
        {
            return registry;
        }

        return registry
            .AddOrchestrator<AgentTurnOrchestrator>(AgentTurnNames.Orchestration)
            .AddActivity(AgentTurnNames.LoadContext, sp => new LoadContextActivity(sp))
            .AddActivity(AgentTurnNames.CompactSession, sp => new CompactSessionActivity(sp))
            .AddActivity(AgentTurnNames.CallModel, sp => new CallModelActivity(sp))
            .AddActivity(AgentTurnNames.RunTool, sp => new RunToolActivity(sp))
            .AddActivity(AgentTurnNames.RequestApprovals, sp => new RequestApprovalsActivity(sp))
            .AddActivity(AgentTurnNames.AppendEvents, sp => new AppendEventsActivity(sp))
            .AddActivity(AgentTurnNames.SaveSession, sp => new SaveSessionActivity(sp))
            .AddActivity(AgentTurnNames.Finish, sp => new FinishActivity(sp));
    }
}
