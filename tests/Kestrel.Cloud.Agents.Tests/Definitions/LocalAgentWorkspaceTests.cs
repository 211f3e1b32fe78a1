using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Policy;
using Kestrel.Cloud.Agents.Tools.Files;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Tests.Definitions;

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

    [Fact]
    public async Task CreateAgentAsync_ValidFiles_WritesFolderAndReturnsDefinition()
    {
        AgentDefinition created = await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent, "Tool tips."));

        created.Model.Should().Be("gpt-4.1");
        created.ToolGuidance.Should().Be("Tool tips.");
        string folder = Path.Join(this.workspace.RootDirectory, "helper");
        File.ReadAllText(Path.Join(folder, "AGENT.md")).Should().Be(ValidAgent);
        File.ReadAllText(Path.Join(folder, "TOOLS.md")).Should().Be("Tool tips.");
        File.Exists(Path.Join(folder, "HEARTBEAT.md")).Should().BeFalse();
        Directory.GetFiles(folder).Should().HaveCount(2, "no temp files are left behind");

        AgentDefinition? read = await this.workspace.GetAgentAsync("helper");
        read!.Version.Should().Be(created.Version);
        read.Files.Should().Be(new AgentFiles(ValidAgent, "Tool tips.", null));
    }

    [Fact]
    public async Task CreateAgentAsync_Existing_ThrowsAlreadyExists()
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));

        var ex = await Assert.ThrowsAsync<AgentWorkspaceException>(() => this.workspace.CreateAgentAsync("helper", new AgentFiles("Other.")));

        ex.Error.Should().Be(AgentWorkspaceError.AlreadyExists);
        ex.Message.Should().Be("The agent 'helper' already exists; update it instead, or choose another name.");
        File.ReadAllText(Path.Join(this.workspace.RootDirectory, "helper", "AGENT.md")).Should().Be(ValidAgent);
    }

    [Fact]
    public async Task CreateAgentAsync_InvalidFiles_ThrowsAndWritesNothing()
    {
        var ex = await Assert.ThrowsAsync<AgentDefinitionException>(() => this.workspace.CreateAgentAsync("broken", new AgentFiles("---\nmax_iterations: 500\n---\nHi.")));

        ex.Errors.Single().ToString().Should().Be("AGENT.md front matter: max_iterations must be between 1 and 200 (found 500).");
        Directory.Exists(Path.Join(this.workspace.RootDirectory, "broken")).Should().BeFalse();
        (await this.workspace.ListAgentNamesAsync()).Should().BeEmpty();
    }

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
    public async Task GetAgentAsync_Missing_ReturnsNull()
    {
        (await this.workspace.GetAgentAsync("nobody")).Should().BeNull();
        (await this.workspace.ExistsAsync("nobody")).Should().BeFalse();
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
    public async Task UpdateAgentAsync_ReplacesDefinitionFilesAndKeepsTheRest()
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent, "Tips.", "Beat."));
        await this.workspace.WriteFileAsync("helper", "memory/notes.md", "# Notes\nx");

        AgentDefinition updated = await this.workspace.UpdateAgentAsync("helper", new AgentFiles("---\nmodel: other\n---\nNew prompt."));

        updated.Model.Should().Be("other");
        updated.SystemPrompt.Should().Be("New prompt.");
        updated.ToolGuidance.Should().BeNull();
        updated.Heartbeat.Should().BeNull();
        updated.Memory.Should().ContainSingle().Which.Path.Should().Be("memory/notes.md");
        File.Exists(Path.Join(this.workspace.RootDirectory, "helper", "TOOLS.md")).Should().BeFalse();
    }

    [Fact]
    public async Task UpdateAgentAsync_StaleVersion_ThrowsVersionMismatchAndKeepsFile()
    {
        AgentDefinition v1 = await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        AgentDefinition v2 = await this.workspace.UpdateAgentAsync("helper", new AgentFiles("Second."), v1.Version);

        var ex = await Assert.ThrowsAsync<AgentWorkspaceException>(() => this.workspace.UpdateAgentAsync("helper", new AgentFiles("Third."), v1.Version));

        ex.Error.Should().Be(AgentWorkspaceError.VersionMismatch);
        ex.Message.Should().Be($"The agent 'helper' changed since version {v1.Version} (it is now {v2.Version}); read it again and reapply your change.");
        (await this.workspace.GetAgentAsync("helper"))!.SystemPrompt.Should().Be("Second.");
    }

    [Fact]
    public async Task UpdateAgentAsync_InvalidFiles_ThrowsAndKeepsOldFiles()
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));

        await Assert.ThrowsAsync<AgentDefinitionException>(() => this.workspace.UpdateAgentAsync("helper", new AgentFiles("---\ntemperature: 7\n---\nX")));

        File.ReadAllText(Path.Join(this.workspace.RootDirectory, "helper", "AGENT.md")).Should().Be(ValidAgent);
    }

    [Fact]
    public async Task UpdateAgentAsync_Missing_ThrowsNotFound()
    {
        var ex = await Assert.ThrowsAsync<AgentWorkspaceException>(() => this.workspace.UpdateAgentAsync("ghost", new AgentFiles("X")));

        ex.Error.Should().Be(AgentWorkspaceError.NotFound);
        ex.Message.Should().Be("The agent 'ghost' does not exist.");
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
    public async Task GetAgentAsync_MemoryAndSkills_LoadsSummariesAndSkillIndex()
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.workspace.WriteFileAsync("helper", "memory/b-prefs.md", "# Preferences\nTea, not coffee.");
        await this.workspace.WriteFileAsync("helper", "memory/a-people.md", "Alice is the manager.\n");
        await this.workspace.WriteFileAsync("helper", "memory/ignored.txt", "not markdown");
        await this.workspace.WriteFileAsync("helper", "skills/summarise/SKILL.md", "---\nname: summarise\ndescription: Summarise long text.\n---\nKeep it short.");

        AgentDefinition agent = (await this.workspace.GetAgentAsync("helper"))!;

        agent.Memory.Should().Equal(
            new MemorySummary("memory/a-people.md", "Alice is the manager.", 22),
            new MemorySummary("memory/b-prefs.md", "Preferences", 30));
        agent.Skills.Should().Equal(new SkillSummary("summarise", "Summarise long text.", "skills/summarise/SKILL.md"));
        (await this.workspace.ReadFileAsync("helper", "memory/b-prefs.md")).Should().Be("# Preferences\nTea, not coffee.");
        string skillText = (await this.workspace.ReadFileAsync("helper", agent.Skills[0].Path))!;
        AgentDefinitionParser.ParseSkill("helper", "summarise", skillText).Body.Should().Be("Keep it short.");
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

    [Fact]
    public async Task WriteFileAsync_InvalidSkill_RefusedBeforeWriting()
    {
        await this.workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));

        await Assert.ThrowsAsync<AgentDefinitionException>(() => this.workspace.WriteFileAsync("helper", "skills/web/SKILL.md", "no front matter"));

        File.Exists(Path.Join(this.workspace.RootDirectory, "helper", "skills", "web", "SKILL.md")).Should().BeFalse();
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

    [Fact]
    public async Task WriteFileAsync_MissingAgent_ThrowsNotFound()
    {
        var ex = await Assert.ThrowsAsync<AgentWorkspaceException>(() => this.workspace.WriteFileAsync("ghost", "memory/x.md", "x"));
        ex.Error.Should().Be(AgentWorkspaceError.NotFound);
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
    public async Task EnsureDefaultAgentAsync_UserEditedDefault_LeftAlone()
    {
        await this.workspace.EnsureDefaultAgentAsync();
        await this.workspace.UpdateAgentAsync("default", new AgentFiles("My own default."));

        (await this.workspace.EnsureDefaultAgentAsync()).Should().BeFalse();

        (await this.workspace.GetAgentAsync("default"))!.SystemPrompt.Should().Be("My own default.");
    }

    [Fact]
    public void GetFilesDirectory_IsInsideAgentFolderAndCreated()
    {
        string files = this.workspace.GetFilesDirectory("helper");

        files.Should().Be(Path.Join(this.workspace.RootDirectory, "helper", "files"));
        Directory.Exists(files).Should().BeTrue();
    }
}
