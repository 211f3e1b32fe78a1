using System.Text.Json;
using Kestrel.Cloud.Agents.Policy;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Http;
using Kestrel.Cloud.Agents.Tools.Shell;

namespace Kestrel.Cloud.Agents.Tests.Policy;

public class ToolPolicyTests
{
    private static ToolPolicy Policy(params (string Pattern, ToolPolicyAction Action)[] rules) =>
        new(rules.Select(r => new ToolPolicyRule(ToolPattern.Parse(r.Pattern), r.Action)));

    [Fact]
    public void Decide_NoRules_ReadOnlyAllowedMutatingAsks()
    {
        ToolPolicy.Default.Decide("files_read", isReadOnly: true, requiresApproval: false)
            .Should().Be(new ToolPolicyDecision(ToolPolicyAction.Allow, "no rule matched; read-only tools are allowed by default.", null));
        ToolPolicy.Default.Decide("files_write", isReadOnly: false, requiresApproval: false)
            .Should().Be(new ToolPolicyDecision(ToolPolicyAction.Ask, "no rule matched; tools that change something ask by default.", null));
        ToolPolicy.Default.Decide("shell", isReadOnly: false, requiresApproval: true)
            .Should().Be(new ToolPolicyDecision(ToolPolicyAction.Ask, "no rule matched; shell always requires approval.", null));
    }

    [Fact]
    public void Decide_FirstMatchWins()
    {
        ToolPolicy policy = Policy(("files_write", ToolPolicyAction.Deny), ("files_*", ToolPolicyAction.Allow), ("*", ToolPolicyAction.Ask));

        ToolPolicyDecision write = policy.Decide("files_write", false, false);
        write.Action.Should().Be(ToolPolicyAction.Deny);
        write.Reason.Should().Be("rule 1 (files_write → deny) matched.");
        policy.Decide("files_edit", false, false).Action.Should().Be(ToolPolicyAction.Allow);
        policy.Decide("files_read", true, false).Reason.Should().Be("rule 2 (files_* → allow) matched.");
        policy.Decide("http_fetch", true, false).Action.Should().Be(ToolPolicyAction.Ask);
    }

    [Fact]
    public void Decide_AllowRuleForAlwaysAskTool_StillAsks()
    {
        ToolPolicy policy = Policy(("*", ToolPolicyAction.Allow));

        ToolPolicyDecision decision = policy.Decide("shell", isReadOnly: false, requiresApproval: true);

        decision.Action.Should().Be(ToolPolicyAction.Ask);
        decision.Reason.Should().Be("rule 1 (* → allow) matched, but shell always requires approval, so the call asks.");
    }

    [Fact]
    public void Decide_DenyRuleForAlwaysAskTool_Denies()
    {
        Policy(("shell", ToolPolicyAction.Deny)).Decide("shell", false, true).Action.Should().Be(ToolPolicyAction.Deny);
    }

    [Fact]
    public void Decide_RealShellTool_CannotBeAllowed()
    {
        var shell = new ShellTool();

        Policy(("shell", ToolPolicyAction.Allow)).Decide(shell, default).Action.Should().Be(ToolPolicyAction.Ask);
    }

    [Fact]
    public void Decide_HttpFetch_GetIsReadOnlyPostIsNot()
    {
        using var fetch = new HttpFetchTool();
        JsonElement get = JsonSerializer.SerializeToElement(new { url = "https://example.com" });
        JsonElement post = JsonSerializer.SerializeToElement(new { url = "https://example.com", method = "post", body = "x" });

        ToolPolicy.Default.Decide(fetch, get).Action.Should().Be(ToolPolicyAction.Allow);
        ToolPolicy.Default.Decide(fetch, post).Action.Should().Be(ToolPolicyAction.Ask);
    }

    [Fact]
    public void Decide_McpRules_MatchOnlyToolsOfThatServer()
    {
        ToolPolicy policy = Policy(("mcp:github/create_*", ToolPolicyAction.Deny), ("mcp:github/*", ToolPolicyAction.Allow), ("mcp:*/*", ToolPolicyAction.Ask));

        policy.Decide("github_create_issue", false, false, "github", "create_issue").Action.Should().Be(ToolPolicyAction.Deny);
        policy.Decide("github_list_issues", false, false, "github", "list_issues").Action.Should().Be(ToolPolicyAction.Allow);
        policy.Decide("echo", true, false, "everything").Action.Should().Be(ToolPolicyAction.Ask);
        policy.Decide("create_issue", false, false).Reason.Should().StartWith("no rule matched", "MCP rules never match built-in tools");
    }

    [Theory]
    [InlineData("files_*", "files_read", true)]
    [InlineData("files_*", "files", false)]
    [InlineData("files_?ead", "files_read", true)]
    [InlineData("*", "anything-at_all", true)]
    [InlineData("http_fetch", "http_fetch", true)]
    [InlineData("http_fetch", "HTTP_FETCH", false)]
    [InlineData("http_fetch", "http_fetch2", false)]
    [InlineData("a.b", "aXb", false)]
    public void Matches_NamePattern_IsAnchoredCaseSensitiveGlob(string pattern, string name, bool expected)
    {
        ToolPattern.Parse(pattern).Matches(name).Should().Be(expected);
    }

    [Theory]
    [InlineData("", "a tool pattern cannot be empty; write a tool name such as http_fetch, a glob such as files_*, or mcp:<server>/<tool>.")]
    [InlineData("mcp:", "'mcp:' is not a valid tool pattern: an MCP pattern names a server and a tool, such as mcp:github/* for every tool of a server.")]
    [InlineData("mcp:Git Hub/x", "'mcp:Git Hub/x' is not a valid tool pattern: in mcp:<server>/<tool> the server uses lowercase letters, digits, '-', '_' and the tool letters, digits, '_', '-', '.'; both may use '*' and '?'.")]
    [InlineData("files/*", "'files/*' is not a valid tool pattern: use letters, digits, '_', '-', '.', the wildcards '*' and '?', or mcp:<server>/<tool>.")]
    public void TryParse_InvalidPattern_ExplainsRule(string pattern, string expected)
    {
        ToolPattern.TryParse(pattern, out _, out string? error).Should().BeFalse();
        error.Should().Be(expected);
    }
}
