using System.Text.Json;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Mcp;
using ModelContextProtocol.Protocol;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>The adapter's mapping of MCP tool metadata and results, without a server.</summary>
public class McpAgentToolTests
{
    [Fact]
    public async Task Constructor_NoAnnotations_CountsAsMutating()
    {
        await using McpServerConnection connection = McpTestServers.Connection("svc", new McpServerOptions { Command = "unused" });
        var tool = new Tool { Name = "do.it", InputSchema = JsonDocument.Parse("""{"type":"object","properties":{"x":{"type":"integer"}}}""").RootElement };

        var adapted = new McpAgentTool(connection, tool, McpToolNaming.ToModelName("svc", tool.Name));

        adapted.IsReadOnly.Should().BeFalse();
        adapted.Name.Should().Be("svc__do_it");
        adapted.McpServer.Should().Be("svc");
        adapted.McpToolName.Should().Be("do.it");
        adapted.Description.Should().Be("do.it (tool do.it of the MCP server svc).");
        adapted.ParametersSchema.GetRawText().Should().Be("""{"type":"object","properties":{"x":{"type":"integer"}}}""");
    }

    [Fact]
    public async Task Constructor_ReadOnlyHintFalse_CountsAsMutating_AndTrueAsReadOnly()
    {
        await using McpServerConnection connection = McpTestServers.Connection("svc", new McpServerOptions { Command = "unused" });

        new McpAgentTool(connection, new Tool { Name = "w", Annotations = new ToolAnnotations { ReadOnlyHint = false } }, "svc__w").IsReadOnly.Should().BeFalse();
        new McpAgentTool(connection, new Tool { Name = "r", Annotations = new ToolAnnotations { ReadOnlyHint = true } }, "svc__r").IsReadOnly.Should().BeTrue();
    }

    [Fact]
    public void ToToolResult_MixedContent_BecomesText()
    {
        var result = new CallToolResult
        {
            Content =
            [
                new TextContentBlock { Text = "first" },
                ImageContentBlock.FromBytes(new byte[] { 1, 2, 3 }, "image/png"),
                new EmbeddedResourceBlock { Resource = new TextResourceContents { Uri = "file:///a.txt", Text = "inner" } },
                new ResourceLinkBlock { Uri = "file:///b.txt", Name = "b" },
            ],
        };

        ToolResult text = McpAgentTool.ToToolResult(result, 4096);

        text.Should().Be(new ToolResult("first\n[image: image/png, 3 bytes, not shown]\n[resource file:///a.txt]\ninner\n[resource link: b file:///b.txt]"));
    }

    [Fact]
    public void ToToolResult_IsError_IsAToolError()
    {
        var result = new CallToolResult { Content = [new TextContentBlock { Text = "no such repo" }], IsError = true };

        McpAgentTool.ToToolResult(result, 4096).Should().Be(new ToolResult("no such repo", IsError: true));
        McpAgentTool.ToToolResult(new CallToolResult { IsError = true }, 4096).Text.Should().Be("The tool reported an error without a message.");
    }

    [Fact]
    public void ToToolResult_OnlyStructuredContent_ShowsTheJson()
    {
        var result = new CallToolResult { StructuredContent = JsonDocument.Parse("""{"sum":3}""").RootElement };

        McpAgentTool.ToToolResult(result, 4096).Text.Should().Be("""{"sum":3}""");
    }
}
