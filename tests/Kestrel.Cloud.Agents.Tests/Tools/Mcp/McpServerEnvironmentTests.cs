using Kestrel.Cloud.Agents.Tools.Mcp;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

public class McpServerEnvironmentTests
{
    private static readonly Dictionary<string, string> Host = new()
    {
        ["PATH"] = "/usr/bin",
        ["HOME"] = "/home/app",
        ["OPENAI_API_KEY"] = "sk-secret",
        ["KestrelCloud__Providers__OpenAI__ApiKey"] = "sk-secret-2",
        ["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=https;AccountKey=secret",
        ["TERM"] = "() { :; }; echo pwned",
    };

    [Fact]
    public void Build_KeepsOnlyAllowlistedHostVariablesPlusConfiguredEnv()
    {
        var server = new McpServerOptions { Command = "npx", Env = new Dictionary<string, string> { ["GITHUB_TOKEN"] = "ghp_for_this_server", ["HOME"] = "/srv/mcp" } };

        IReadOnlyDictionary<string, string> env = McpServerEnvironment.Build(server, new McpServersOptions(), n => Host.GetValueOrDefault(n));

        env.Should().BeEquivalentTo(new Dictionary<string, string>
        {
            ["PATH"] = "/usr/bin",
            ["HOME"] = "/srv/mcp",
            ["GITHUB_TOKEN"] = "ghp_for_this_server",
        });
    }

    [Fact]
    public void Build_ExtraPassedVariable_IsForwarded()
    {
        var global = new McpServersOptions { PassEnvironmentVariables = ["PATH", "OPENAI_API_KEY"] };

        IReadOnlyDictionary<string, string> env = McpServerEnvironment.Build(new McpServerOptions { Command = "x" }, global, n => Host.GetValueOrDefault(n));

        env.Keys.Should().BeEquivalentTo("PATH", "OPENAI_API_KEY");
    }
}
