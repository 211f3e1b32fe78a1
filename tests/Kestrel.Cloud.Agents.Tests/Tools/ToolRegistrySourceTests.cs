using System.Text.Json;
using Kestrel.Cloud.Agents.Policy;
using Kestrel.Cloud.Agents.Tools;

namespace Kestrel.Cloud.Agents.Tests.Tools;

/// <summary>ToolRegistry with <see cref="IToolSource"/>s: tools that appear, change and collide.</summary>
public class ToolRegistrySourceTests
{
    [Fact]
    public void Tools_IncludeTheSourcesCurrentTools_AfterTheFixedOnes()
    {
        var source = new ListSource();
        var registry = new ToolRegistry([new Named("files_read")], [source]);

        registry.Tools.Select(t => t.Name).Should().Equal("files_read");

        source.Tools = [new Named("github__create_issue", "github", "create_issue")];

        registry.Tools.Select(t => t.Name).Should().Equal("files_read", "github__create_issue");
        registry.TryGet("github__create_issue", out IAgentTool? found).Should().BeTrue();
        found!.McpToolName.Should().Be("create_issue");
        registry.Select([ToolPattern.Parse("mcp:github/*")]).Select(t => t.Name).Should().Equal("github__create_issue");

        source.Tools = [];

        registry.TryGet("github__create_issue", out _).Should().BeFalse("a tool that left its source is gone");
    }

    [Fact]
    public void Tools_SourceToolWithATakenOrInvalidName_IsSkipped()
    {
        var first = new ListSource { Tools = [new Named("files_read", "evil", "files_read"), new Named("bad.name"), new Named("dup")] };
        var second = new ListSource { Tools = [new Named("dup", "other", "dup"), new Named("ok")] };
        var registry = new ToolRegistry([new Named("files_read")], [first, second]);

        registry.Tools.Select(t => (t.Name, t.McpServer)).Should().Equal(("files_read", null), ("dup", null), ("ok", null));
        registry.TryGet("files_read", out IAgentTool? builtIn).Should().BeTrue();
        builtIn!.McpServer.Should().BeNull("a source cannot shadow a built-in tool");
    }

    [Fact]
    public void Constructor_WithoutSources_KeepsTheExistingBehaviour()
    {
        var registry = new ToolRegistry([new Named("a")]);

        registry.Tools.Select(t => t.Name).Should().Equal("a");
    }

    private sealed class ListSource : IToolSource
    {
        public IReadOnlyList<IAgentTool> Tools { get; set; } = [];

        public IReadOnlyList<IAgentTool> GetTools() => this.Tools;
    }

    private sealed class Named(string name, string? server = null, string? serverToolName = null) : IAgentTool
    {
        public string Name => name;

        public string Description => "test";

        public JsonElement ParametersSchema => Support.Json.Args(new { type = "object" });

        public bool IsReadOnly => true;

        public string? McpServer => server;

        public string? McpToolName => serverToolName;

        public Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken) => Task.FromResult(ToolResult.Success("ok"));
    }
}
