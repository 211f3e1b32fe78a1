using Kestrel.Cloud.Agents.Tools.Mcp;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

public class McpToolNamingTests
{
    [Theory]
    [InlineData("github", "create_issue", "github__create_issue")]
    [InlineData("everything", "get-sum", "everything__get-sum")]
    [InlineData("fs", "read.file", "fs__read_file")]
    [InlineData("fs", "ns/tool name", "fs__ns_tool_name")]
    [InlineData("fs", "", "fs__tool")]
    public void ToModelName_SanitizesToTheProvidersCharset(string server, string tool, string expected)
    {
        McpToolNaming.ToModelName(server, tool).Should().Be(expected);
    }

    [Fact]
    public void ToModelName_TooLong_IsCutToSixtyFourWithAStableHash()
    {
        string tool = new('a', 80);

        string name = McpToolNaming.ToModelName("github", tool);

        name.Length.Should().Be(64);
        name.Should().MatchRegex("^github__a+_[0-9a-f]{6}$");
        McpToolNaming.ToModelName("github", tool).Should().Be(name, "the same tool gets the same name after a restart");
        McpToolNaming.ToModelName("github", new string('a', 79) + "b").Should().NotBe(name);
    }

    [Fact]
    public void ToModelName_Collision_GetsAHashSuffix()
    {
        var taken = new HashSet<string> { "fs__a_b" };

        string name = McpToolNaming.ToModelName("fs", "a.b", taken);

        name.Should().MatchRegex("^fs__a_b_[0-9a-f]{6}$");
    }

    [Theory]
    [InlineData("echo", true)]
    [InlineData("a.b", false)]
    [InlineData("", false)]
    public void NeedsNoChange_OnlyForValidNames(string tool, bool expected)
    {
        McpToolNaming.NeedsNoChange("fs", tool).Should().Be(expected);
    }
}
