using System.Text;
using Kestrel.Cloud.Agents.Policy;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Mcp;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>The real server-everything over stdio: listing, calls, errors, caps, environment scrubbing, policy.</summary>
public class McpEverythingStdioTests : IClassFixture<McpEverythingFixture>
{
    private readonly McpServerConnection connection;

    public McpEverythingStdioTests(McpEverythingFixture fixture) => this.connection = fixture.Connection;

    [Fact]
    public void Connect_ListsToolsPrefixedWithTheServerName()
    {
        this.connection.Status.State.Should().Be(McpServerState.Connected);
        this.connection.Status.ToolCount.Should().Be(this.connection.Tools.Count).And.BeGreaterThan(5);
        this.connection.Tools.Select(t => t.Name).Should().Contain(["everything__echo", "everything__get-sum", "everything__get-env"]);
        this.connection.Tools.Should().OnlyContain(t => t.Name.StartsWith("everything__", StringComparison.Ordinal) && t.McpServer == "everything");

        McpAgentTool echo = this.connection.Tool("echo");
        echo.Description.Should().Be("Echoes back the input string");
        echo.ParametersSchema.GetProperty("properties").GetProperty("message").GetProperty("type").GetString().Should().Be("string");
    }

    [Fact]
    public void Connect_ReadOnlyHintDecidesReadOnly()
    {
        this.connection.Tool("echo").IsReadOnly.Should().BeTrue("echo declares readOnlyHint: true");
        this.connection.Tool("toggle-simulated-logging").IsReadOnly.Should().BeFalse("it declares readOnlyHint: false");
    }

    [Fact]
    public async Task Invoke_Echo_ReturnsTheServersText()
    {
        ToolResult result = await this.connection.Tool("echo").CallAsync(new { message = "hello from kestrel" });

        result.Should().Be(new ToolResult("Echo: hello from kestrel"));
    }

    [Fact]
    public async Task Invoke_GetSum_AddsNumbers()
    {
        ToolResult result = await this.connection.Tool("get-sum").CallAsync(new { a = 2, b = 40 });

        result.IsError.Should().BeFalse(result.Text);
        result.Text.Should().Contain("42");
    }

    [Fact]
    public async Task Invoke_InvalidArguments_IsAToolErrorWithTheServersMessage()
    {
        ToolResult result = await this.connection.Tool("get-sum").CallAsync(new { a = "two", b = 40 });

        result.IsError.Should().BeTrue();
        result.Text.Should().Contain("Invalid arguments for tool get-sum").And.Contain("expected number");
    }

    [Fact]
    public async Task Invoke_ArgumentsNotAnObject_ThrowsToolException()
    {
        Func<Task> act = () => this.connection.Tool("echo").InvokeAsync(Support.Json.Args(new[] { 1, 2 }), McpTestServers.Context, CancellationToken.None).WaitAsync(McpTestServers.Timeout);

        await act.Should().ThrowAsync<ToolException>().WithMessage("The arguments must be a JSON object; they are a JSON array.");
    }

    [Fact]
    public async Task Invoke_LargeOutput_IsCappedWithANote()
    {
        string message = new('x', 100_000);

        ToolResult result = await this.connection.Tool("echo").CallAsync(new { message });

        result.IsTruncated.Should().BeTrue();
        result.IsError.Should().BeFalse();
        Encoding.UTF8.GetByteCount(result.Text).Should().BeLessThanOrEqualTo(4096);
        result.Text.Should().StartWith("Echo: xxxx").And.Contain("[output truncated: showing the first");
    }

    [Fact]
    public async Task Invoke_GetEnv_ShowsOnlyAllowlistedAndConfiguredVariables()
    {
        ToolResult result = await this.connection.Tool("get-env").CallAsync(new { });

        result.IsError.Should().BeFalse();
        result.Text.Should().Contain("\"CONFIGURED_FOR_SERVER\": \"visible-value\"");
        result.Text.Should().Contain("\"PATH\"");
        result.Text.Should().NotContain(McpEverythingFixture.SecretValue);
        result.Text.Should().NotContain(McpEverythingFixture.SecretVariable);
        result.Text.Should().NotContain(McpEverythingFixture.OtherSecretVariable);
        Environment.GetEnvironmentVariable(McpEverythingFixture.SecretVariable).Should().Be(McpEverythingFixture.SecretValue, "the secret is in the host's environment, so its absence above is the scrubbing");
    }

    [Fact]
    public async Task Registry_SourceToolsAreSelectedByMcpPatternsAndInvoked()
    {
        var source = new SingleConnectionSource(this.connection);
        var registry = new ToolRegistry(Array.Empty<IAgentTool>(), new IToolSource[] { source }, Options.Create(new ToolRegistryOptions()));

        registry.Select([ToolPattern.Parse("mcp:everything/get-*")]).Select(t => t.Name)
            .Should().Contain(["everything__get-sum", "everything__get-env"]).And.NotContain("everything__echo");
        registry.Select([ToolPattern.Parse("everything__echo")]).Should().ContainSingle();
        registry.TryGet("everything__echo", out IAgentTool? echo).Should().BeTrue();

        ToolResult result = await registry.InvokeAsync(echo!, Support.Json.Args(new { message = "via registry" }), McpTestServers.Context, TimeSpan.FromSeconds(30)).WaitAsync(McpTestServers.Timeout);
        result.Text.Should().Be("Echo: via registry");
    }

    [Fact]
    public void Policy_PerToolAndPerServerRules_MatchMcpTools()
    {
        McpAgentTool echo = this.connection.Tool("echo");
        McpAgentTool sum = this.connection.Tool("get-sum");
        McpAgentTool toggle = this.connection.Tool("toggle-simulated-logging");
        var policy = new ToolPolicy(
        [
            new ToolPolicyRule(ToolPattern.Parse("everything__get-*"), ToolPolicyAction.Deny),
            new ToolPolicyRule(ToolPattern.Parse("mcp:everything/echo"), ToolPolicyAction.Allow),
            new ToolPolicyRule(ToolPattern.Parse("mcp:everything/*"), ToolPolicyAction.Ask),
        ]);

        policy.Decide(sum, Support.Json.Args(new { a = 1, b = 2 })).Action.Should().Be(ToolPolicyAction.Deny);
        policy.Decide(echo, Support.Json.Args(new { message = "x" })).Action.Should().Be(ToolPolicyAction.Allow);
        ToolPolicyDecision perServer = policy.Decide(toggle, Support.Json.Args(new { }));
        perServer.Action.Should().Be(ToolPolicyAction.Ask);
        perServer.Reason.Should().Be("rule 3 (mcp:everything/* → ask) matched.");

        ToolPolicy.Default.Decide(echo, Support.Json.Args(new { })).Action.Should().Be(ToolPolicyAction.Allow, "read-only MCP tools are allowed by default");
        ToolPolicy.Default.Decide(toggle, Support.Json.Args(new { })).Action.Should().Be(ToolPolicyAction.Ask, "MCP tools that are not read-only ask by default");
        new ToolPolicy([new ToolPolicyRule(ToolPattern.Parse("mcp:github/*"), ToolPolicyAction.Allow)])
            .Decide(toggle, Support.Json.Args(new { })).Action.Should().Be(ToolPolicyAction.Ask, "a rule for another server does not match");
    }

    private sealed class SingleConnectionSource(McpServerConnection connection) : IToolSource
    {
        public IReadOnlyList<IAgentTool> GetTools() => connection.Tools;
    }
}
