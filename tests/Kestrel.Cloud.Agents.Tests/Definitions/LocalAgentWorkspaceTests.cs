using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Policy;
using Kestrel.Cloud.Agents.Tools.Files;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Tests.Definitions;

/// <summary>
/// What only the folder workspace does (names as folders, symlinks, the files folder, the on-disk layout); the behaviour
/// every workspace shares is the contract in tests/Kestrel.Cloud.Agents.Storage.Tests/Contracts/AgentWorkspaceContract.cs,
/// which runs against this workspace too.
/// </summary>
public sealed class LocalAgentWorkspaceTests : IDisposable
{
    private const string ValidAgent = "---\nmodel: gpt-4.1\nmax_iterations: 5\n---\nYou help.\n";

    private readonly TempDirectory temp = new();
    private readonly LocalAgentWorkspace workspace;

    public LocalAgentWorkspaceTests()
    {
        this.workspace = new LocalAgentWorkspace(Path.Join(this.temp.Path, "agents"));
    }

    public void Dispose() => this.temp.Dispose();

    [Theory]
    [InlineData("../escape")]
    [InlineData("UPPER")]
    [InlineData(".hidden")]
    public async Task CreateAgentAsync_InvalidName_Throws(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => this.workspace.CreateAgentAsync(name, new AgentFiles(ValidAgent)));
        Directory.GetFileSystemEntries(this.workspace.RootDirectory).Should().BeEmpty();
    }

    [Fact]
    public async Task ListAgentNamesAsync_ReturnsSortedAgentsOnly()
    {
        await this.workspace.CreateAgentAsync("zeta", new AgentFiles(ValidAgent));
        await this.workspace.CreateAgentAsync("alpha", new AgentFiles(ValidAgent));
        Directory.CreateDirectory(Path.Join(this.workspace.RootDirectory, "no-agent-md"));
        Directory.CreateDirectory(Path.Join(this.workspace.RootDirectory, "Bad_Name"));
        File.WriteAllText(Path.Join(this.workspace.RootDirectory, "Bad_Name", "AGENT.md"), "Hi.");

        (await this.workspace.ListAgentNamesAsync()).Should().Equal("alpha", "zeta");
    }

    [Fact]
    public async Task DeleteAgentAsync_RemovesFolder_SecondDeleteReturnsFalse()
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        File.WriteAllText(Path.Join(this.workspace.GetFilesDirectory("helper"), "data.txt"), "x");

        (await this.workspace.DeleteAgentAsync("helper")).Should().BeTrue();
        (await this.workspace.DeleteAgentAsync("helper")).Should().BeFalse();

        Directory.GetFileSystemEntries(this.workspace.RootDirectory).Should().BeEmpty();
    }

    [Fact]
    public async Task GetAgentAsync_BrokenSkillOnDisk_ReportsFileAndField()
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        string skill = Path.Join(this.workspace.RootDirectory, "helper", "skills", "web");
        Directory.CreateDirectory(skill);
        File.WriteAllText(Path.Join(skill, "SKILL.md"), "---\nname: web\n---\nBody");

        var ex = await Assert.ThrowsAsync<AgentDefinitionException>(() => this.workspace.GetAgentAsync("helper"));

        ex.Errors.Single().ToString().Should().Be("skills/web/SKILL.md front matter: description is required: say what the skill does and when to use it.");
    }

    [Theory]
    [InlineData("AGENT.md")]
    [InlineData("agent.md")]
    [InlineData("./TOOLS.md")]
    [InlineData("HEARTBEAT.md")]
    public async Task WriteFileAsync_DefinitionFile_Refused(string path)
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));

        var ex = await Assert.ThrowsAsync<WorkspacePathException>(() => this.workspace.WriteFileAsync("helper", path, "---\nmax_iterations: 999\n---\nx"));

        ex.Message.Should().EndWith("is a definition file; change it with an agent update, which validates it.");
        (await this.workspace.GetAgentAsync("helper"))!.MaxIterations.Should().Be(5);
    }

    [Theory]
    [InlineData("../other/AGENT.md")]
    [InlineData("/etc/passwd")]
    [InlineData("memory/../../other/AGENT.md")]
    public async Task ReadFileAsync_PathOutsideAgentFolder_Refused(string path)
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.workspace.CreateAgentAsync("other", new AgentFiles("Secret prompt."));

        await Assert.ThrowsAsync<WorkspacePathException>(() => this.workspace.ReadFileAsync("helper", path));
    }

    [Fact]
    public async Task ReadFileAsync_SymlinkToAnotherAgent_Refused()
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.workspace.CreateAgentAsync("other", new AgentFiles("Secret prompt."));
        Directory.CreateDirectory(Path.Join(this.workspace.RootDirectory, "helper", "memory"));
        File.CreateSymbolicLink(Path.Join(this.workspace.RootDirectory, "helper", "memory", "leak.md"), Path.Join(this.workspace.RootDirectory, "other", "AGENT.md"));

        var ex = await Assert.ThrowsAsync<WorkspacePathException>(() => this.workspace.ReadFileAsync("helper", "memory/leak.md"));

        ex.Message.Should().Be("The path 'memory/leak.md' leads outside the workspace through the symbolic link 'memory/leak.md'; only files inside the workspace can be used.");
        var load = await Assert.ThrowsAsync<AgentDefinitionException>(() => this.workspace.GetAgentAsync("helper"));
        load.Errors.Single().File.Should().Be("memory/leak.md");
    }

    [Fact]
    public async Task EnsureDefaultAgentAsync_FirstStart_CreatesDefaultAgentOnce()
    {
        (await this.workspace.EnsureDefaultAgentAsync()).Should().BeTrue();
        (await this.workspace.EnsureDefaultAgentAsync()).Should().BeFalse();

        AgentDefinition agent = (await this.workspace.GetAgentAsync("default"))!;
        agent.SystemPrompt.Should().StartWith("You are a helpful, careful assistant.");
        agent.Tools.Select(t => t.Text).Should().Equal("*");
        agent.MaxIterations.Should().Be(20);
        agent.ToolTimeout.Should().Be(TimeSpan.FromSeconds(60));
        agent.Policy.Decide("files_read", isReadOnly: true, requiresApproval: false).Action.Should().Be(ToolPolicyAction.Allow);
        agent.Policy.Decide("http_fetch", isReadOnly: true, requiresApproval: false).Action.Should().Be(ToolPolicyAction.Allow);
        agent.Policy.Decide("http_fetch", isReadOnly: false, requiresApproval: false).Action.Should().Be(ToolPolicyAction.Ask);
        agent.Policy.Decide("files_write", isReadOnly: false, requiresApproval: false).Action.Should().Be(ToolPolicyAction.Ask);
        agent.Policy.Decide("shell", isReadOnly: false, requiresApproval: true).Action.Should().Be(ToolPolicyAction.Ask);
        agent.Policy.Decide("mcp_tool", isReadOnly: false, requiresApproval: false, mcpServer: "github").Action.Should().Be(ToolPolicyAction.Ask);
    }

    [Fact]
    public void GetFilesDirectory_IsInsideAgentFolderAndCreated()
    {
        string files = this.workspace.GetFilesDirectory("helper");

        files.Should().Be(Path.Join(this.workspace.RootDirectory, "helper", "files"));
        Directory.Exists(files).Should().BeTrue();
    }
}
