using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Tools.Files;

namespace Kestrel.Cloud.Agents.Storage.Tests.Contracts;

/// <summary>What every <see cref="IAgentWorkspace"/> must do; subclassed for the local folder and the blob container.</summary>
public abstract class AgentWorkspaceContract : IAsyncLifetime
{
    protected const string ValidAgent = "---\nmodel: gpt-4.1\nmax_iterations: 5\n---\nYou help.\n";

    protected IAgentWorkspace Workspace { get; private set; } = null!;

    /// <summary>A workspace on fresh, empty storage.</summary>
    protected abstract Task<IAgentWorkspace> CreateWorkspaceAsync();

    /// <summary>A second workspace instance on the same storage (as another process would open it).</summary>
    protected abstract Task<IAgentWorkspace> OpenSecondInstanceAsync();

    public async Task InitializeAsync() => this.Workspace = await this.CreateWorkspaceAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task CreateAgentAsync_ValidFiles_ReturnsDefinitionAndStoresFiles()
    {
        AgentDefinition created = await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent, "Tool tips."));

        created.Model.Should().Be("gpt-4.1");
        created.ToolGuidance.Should().Be("Tool tips.");
        AgentDefinition read = (await this.Workspace.GetAgentAsync("helper"))!;
        read.Version.Should().Be(created.Version);
        read.Files.Should().Be(new AgentFiles(ValidAgent, "Tool tips.", null));
        (await this.Workspace.ExistsAsync("helper")).Should().BeTrue();
        (await this.Workspace.ReadFileAsync("helper", "AGENT.md")).Should().Be(ValidAgent);
    }

    [Fact]
    public async Task CreateAgentAsync_Existing_ThrowsAlreadyExistsAndKeepsFirst()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));

        var ex = await Assert.ThrowsAsync<AgentWorkspaceException>(() => this.Workspace.CreateAgentAsync("helper", new AgentFiles("Other.")));

        ex.Error.Should().Be(AgentWorkspaceError.AlreadyExists);
        ex.Message.Should().Be("The agent 'helper' already exists; update it instead, or choose another name.");
        (await this.Workspace.GetAgentAsync("helper"))!.SystemPrompt.Should().Be("You help.");
    }

    [Fact]
    public async Task CreateAgentAsync_InvalidFiles_ThrowsAndWritesNothing()
    {
        var ex = await Assert.ThrowsAsync<AgentDefinitionException>(() => this.Workspace.CreateAgentAsync("broken", new AgentFiles("---\nmax_iterations: 500\n---\nHi.", "Tips.")));

        ex.Errors.Single().ToString().Should().Be("AGENT.md front matter: max_iterations must be between 1 and 200 (found 500).");
        (await this.Workspace.ExistsAsync("broken")).Should().BeFalse();
        (await this.Workspace.ReadFileAsync("broken", "TOOLS.md")).Should().BeNull();
        (await this.Workspace.ListAgentNamesAsync()).Should().BeEmpty();
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("UPPER")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    public async Task CreateAgentAsync_InvalidName_Throws(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => this.Workspace.CreateAgentAsync(name, new AgentFiles(ValidAgent)));
        (await this.Workspace.ListAgentNamesAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task GetAgentAsync_Missing_ReturnsNull()
    {
        (await this.Workspace.GetAgentAsync("nobody")).Should().BeNull();
        (await this.Workspace.ExistsAsync("nobody")).Should().BeFalse();
    }

    [Fact]
    public async Task ListAgentNamesAsync_ReturnsSortedAgents()
    {
        await this.Workspace.CreateAgentAsync("zeta", new AgentFiles(ValidAgent));
        await this.Workspace.CreateAgentAsync("alpha", new AgentFiles(ValidAgent));
        await this.Workspace.CreateAgentAsync("alpha-2", new AgentFiles(ValidAgent));

        (await this.Workspace.ListAgentNamesAsync()).Should().Equal("alpha", "alpha-2", "zeta");
    }

    [Fact]
    public async Task UpdateAgentAsync_ReplacesDefinitionFilesAndKeepsTheRest()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent, "Tips.", "Beat."));
        await this.Workspace.WriteFileAsync("helper", "memory/notes.md", "# Notes\nx");

        AgentDefinition updated = await this.Workspace.UpdateAgentAsync("helper", new AgentFiles("---\nmodel: other\n---\nNew prompt."));

        updated.Model.Should().Be("other");
        updated.SystemPrompt.Should().Be("New prompt.");
        updated.ToolGuidance.Should().BeNull();
        updated.Heartbeat.Should().BeNull();
        updated.Memory.Should().ContainSingle().Which.Path.Should().Be("memory/notes.md");
        (await this.Workspace.ReadFileAsync("helper", "TOOLS.md")).Should().BeNull();
        (await this.Workspace.ReadFileAsync("helper", "HEARTBEAT.md")).Should().BeNull();
    }

    [Fact]
    public async Task UpdateAgentAsync_StaleVersion_ThrowsVersionMismatchAndKeepsCurrent()
    {
        AgentDefinition v1 = await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        AgentDefinition v2 = await this.Workspace.UpdateAgentAsync("helper", new AgentFiles("Second."), v1.Version);

        var ex = await Assert.ThrowsAsync<AgentWorkspaceException>(() => this.Workspace.UpdateAgentAsync("helper", new AgentFiles("Third."), v1.Version));

        ex.Error.Should().Be(AgentWorkspaceError.VersionMismatch);
        ex.Message.Should().Be($"The agent 'helper' changed since version {v1.Version} (it is now {v2.Version}); read it again and reapply your change.");
        (await this.Workspace.GetAgentAsync("helper"))!.SystemPrompt.Should().Be("Second.");
    }

    [Fact]
    public async Task UpdateAgentAsync_InvalidFiles_ThrowsAndKeepsOldFiles()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent, "Tips."));

        await Assert.ThrowsAsync<AgentDefinitionException>(() => this.Workspace.UpdateAgentAsync("helper", new AgentFiles("---\ntemperature: 7\n---\nX")));

        (await this.Workspace.ReadFileAsync("helper", "AGENT.md")).Should().Be(ValidAgent);
        (await this.Workspace.ReadFileAsync("helper", "TOOLS.md")).Should().Be("Tips.");
    }

    [Fact]
    public async Task UpdateAgentAsync_Missing_ThrowsNotFound()
    {
        var ex = await Assert.ThrowsAsync<AgentWorkspaceException>(() => this.Workspace.UpdateAgentAsync("ghost", new AgentFiles("X")));

        ex.Error.Should().Be(AgentWorkspaceError.NotFound);
        ex.Message.Should().Be("The agent 'ghost' does not exist.");
    }

    [Fact]
    public async Task DeleteAgentAsync_RemovesEverything_SecondDeleteFalse()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.Workspace.WriteFileAsync("helper", "files/data.txt", "x");

        (await this.Workspace.DeleteAgentAsync("helper")).Should().BeTrue();
        (await this.Workspace.DeleteAgentAsync("helper")).Should().BeFalse();

        (await this.Workspace.ExistsAsync("helper")).Should().BeFalse();
        (await this.Workspace.ReadFileAsync("helper", "files/data.txt")).Should().BeNull();
        (await this.Workspace.ListAgentNamesAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task GetAgentAsync_MemoryAndSkills_LoadsSummariesAndSkillIndex()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.Workspace.WriteFileAsync("helper", "memory/b-prefs.md", "# Preferences\nTea, not coffee.");
        await this.Workspace.WriteFileAsync("helper", "memory/a-people.md", "Alice is the manager.\n");
        await this.Workspace.WriteFileAsync("helper", "memory/ignored.txt", "not markdown");
        await this.Workspace.WriteFileAsync("helper", "memory/deeper/c.md", "# Not top level");
        await this.Workspace.WriteFileAsync("helper", "skills/summarise/SKILL.md", "---\nname: summarise\ndescription: Summarise long text.\n---\nKeep it short.");

        AgentDefinition agent = (await this.Workspace.GetAgentAsync("helper"))!;

        agent.Memory.Should().Equal(
            new MemorySummary("memory/a-people.md", "Alice is the manager.", 22),
            new MemorySummary("memory/b-prefs.md", "Preferences", 30));
        agent.Skills.Should().Equal(new SkillSummary("summarise", "Summarise long text.", "skills/summarise/SKILL.md"));
        (await this.Workspace.ReadFileAsync("helper", "memory/b-prefs.md")).Should().Be("# Preferences\nTea, not coffee.");
        string skillText = (await this.Workspace.ReadFileAsync("helper", agent.Skills[0].Path))!;
        AgentDefinitionParser.ParseSkill("helper", "summarise", skillText).Body.Should().Be("Keep it short.");
    }

    [Fact]
    public async Task GetAgentAsync_EmptyMemoryFile_ListedWithEmptySummary()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.Workspace.WriteFileAsync("helper", "memory/empty.md", string.Empty);

        AgentDefinition agent = (await this.Workspace.GetAgentAsync("helper"))!;

        agent.Memory.Should().Equal(new MemorySummary("memory/empty.md", string.Empty, 0));
        (await this.Workspace.ReadFileAsync("helper", "memory/empty.md")).Should().BeEmpty();
    }

    [Fact]
    public async Task GetAgentAsync_MemoryFileLargerThanHead_SummarisedFromItsStartWithFullSize()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        string text = "# Big notes\n" + new string('n', 10_000);
        await this.Workspace.WriteFileAsync("helper", "memory/big.md", text);

        AgentDefinition agent = (await this.Workspace.GetAgentAsync("helper"))!;

        agent.Memory.Should().Equal(new MemorySummary("memory/big.md", "Big notes", text.Length));
    }

    [Fact]
    public async Task WriteFileAsync_InvalidSkill_RefusedBeforeWriting()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));

        await Assert.ThrowsAsync<AgentDefinitionException>(() => this.Workspace.WriteFileAsync("helper", "skills/web/SKILL.md", "no front matter"));

        (await this.Workspace.ReadFileAsync("helper", "skills/web/SKILL.md")).Should().BeNull();
        (await this.Workspace.GetAgentAsync("helper"))!.Skills.Should().BeEmpty();
    }

    [Theory]
    [InlineData("AGENT.md")]
    [InlineData("agent.md")]
    [InlineData("./TOOLS.md")]
    [InlineData("HEARTBEAT.md")]
    public async Task WriteFileAsync_DefinitionFile_Refused(string path)
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));

        var ex = await Assert.ThrowsAsync<WorkspacePathException>(() => this.Workspace.WriteFileAsync("helper", path, "---\nmax_iterations: 999\n---\nx"));

        ex.Message.Should().EndWith("is a definition file; change it with an agent update, which validates it.");
        (await this.Workspace.GetAgentAsync("helper"))!.MaxIterations.Should().Be(5);
    }

    [Fact]
    public async Task WriteFileAsync_MissingAgent_ThrowsNotFound()
    {
        var ex = await Assert.ThrowsAsync<AgentWorkspaceException>(() => this.Workspace.WriteFileAsync("ghost", "memory/x.md", "x"));

        ex.Error.Should().Be(AgentWorkspaceError.NotFound);
        (await this.Workspace.ExistsAsync("ghost")).Should().BeFalse();
    }

    [Theory]
    [InlineData("../other/AGENT.md")]
    [InlineData("/etc/passwd")]
    [InlineData("memory/../../other/AGENT.md")]
    [InlineData("~/secrets")]
    [InlineData("C:/Windows/win.ini")]
    [InlineData("memory\\..\\..\\other\\AGENT.md")]
    [InlineData("a\0b")]
    public async Task ReadAndWrite_PathOutsideAgentFolder_Refused(string path)
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.Workspace.CreateAgentAsync("other", new AgentFiles("Secret prompt."));

        await Assert.ThrowsAsync<WorkspacePathException>(() => this.Workspace.ReadFileAsync("helper", path));
        await Assert.ThrowsAsync<WorkspacePathException>(() => this.Workspace.WriteFileAsync("helper", path, "Overwritten."));

        (await this.Workspace.GetAgentAsync("other"))!.SystemPrompt.Should().Be("Secret prompt.");
    }

    [Fact]
    public async Task ReadFileAsync_LargerThanReadLimit_RefusedWithSize()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        string big = new('b', AgentDefinitionLimits.MaxReadFileSizeBytes + 1);
        await this.Workspace.WriteFileAsync("helper", "files/big.txt", big);

        var ex = await Assert.ThrowsAsync<WorkspacePathException>(() => this.Workspace.ReadFileAsync("helper", "files/big.txt"));

        ex.Message.Should().Be($"The file 'files/big.txt' is {big.Length:N0} bytes; files larger than {AgentDefinitionLimits.MaxReadFileSizeBytes:N0} bytes cannot be read this way.");
        (await this.Workspace.ReadFileAsync("helper", "files/small.txt")).Should().BeNull();
    }

    [Fact]
    public async Task ReadFileAsync_Folder_Refused()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.Workspace.WriteFileAsync("helper", "memory/notes.md", "x");

        var ex = await Assert.ThrowsAsync<WorkspacePathException>(() => this.Workspace.ReadFileAsync("helper", "memory"));

        ex.Message.Should().Be("'memory' is a folder, not a file.");
    }

    [Fact]
    public async Task EnsureDefaultAgentAsync_CreatesOnceAndLeavesEditsAlone()
    {
        (await this.Workspace.EnsureDefaultAgentAsync()).Should().BeTrue();
        (await this.Workspace.EnsureDefaultAgentAsync()).Should().BeFalse();
        await this.Workspace.UpdateAgentAsync("default", new AgentFiles("My own default."));

        (await this.Workspace.EnsureDefaultAgentAsync()).Should().BeFalse();

        (await this.Workspace.GetAgentAsync("default"))!.SystemPrompt.Should().Be("My own default.");
    }

    [Fact]
    public async Task SecondInstance_SeesAgentsAndFilesOfTheFirst_AndCreateRaceHasOneWinner()
    {
        await this.Workspace.CreateAgentAsync("helper", new AgentFiles(ValidAgent));
        await this.Workspace.WriteFileAsync("helper", "memory/notes.md", "# Notes");
        IAgentWorkspace second = await this.OpenSecondInstanceAsync();

        (await second.ListAgentNamesAsync()).Should().Equal("helper");
        (await second.GetAgentAsync("helper"))!.Memory.Should().ContainSingle();

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<bool>[] creators = Enumerable.Range(0, 6).Select(i => Task.Run(async () =>
        {
            await start.Task;
            try
            {
                await (i % 2 == 0 ? this.Workspace : second).CreateAgentAsync("racer", new AgentFiles($"Prompt {i}."));
                return true;
            }
            catch (AgentWorkspaceException ex) when (ex.Error == AgentWorkspaceError.AlreadyExists)
            {
                return false;
            }
        })).ToArray();
        start.SetResult();

        (await Task.WhenAll(creators).Within()).Count(created => created).Should().Be(1);
    }
}
