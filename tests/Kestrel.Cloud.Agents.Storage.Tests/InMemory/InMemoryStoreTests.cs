using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Storage.Tests.Contracts;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Storage.Tests.InMemory;

public sealed class InMemoryRunEventLogTests : RunEventLogContract
{
    protected override Task<IRunEventLog> CreateLogAsync() => Task.FromResult<IRunEventLog>(new InMemoryRunEventLog(this.Clock));
}

public sealed class InMemorySessionStoreTests : SessionStoreContract
{
    protected override Task<ISessionStore> CreateStoreAsync() => Task.FromResult<ISessionStore>(new InMemorySessionStore(this.Clock));
}

public sealed class InMemoryApprovalLinkLedgerTests : ApprovalLinkLedgerContract
{
    protected override Task<IApprovalLinkLedger> CreateLedgerAsync() => Task.FromResult<IApprovalLinkLedger>(new InMemoryApprovalLinkLedger(this.Clock));
}

/// <summary>The local folder workspace passes the same contract as the blob one (a second instance is a second object on the same folder).</summary>
public sealed class LocalAgentWorkspaceContractTests : AgentWorkspaceContract
{
    private readonly TempDirectory temp = new();

    private string Root => Path.Join(this.temp.Path, "agents");

    protected override Task<IAgentWorkspace> CreateWorkspaceAsync() => Task.FromResult<IAgentWorkspace>(new LocalAgentWorkspace(this.Root));

    protected override Task<IAgentWorkspace> OpenSecondInstanceAsync() => Task.FromResult<IAgentWorkspace>(new LocalAgentWorkspace(this.Root));

    public override Task DisposeAsync()
    {
        this.temp.Dispose();
        return Task.CompletedTask;
    }
}
