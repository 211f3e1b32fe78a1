using Kestrel.Cloud.Agents.Tools.Mcp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

public class McpServersOptionsTests
{
    [Fact]
    public void Validate_Defaults_AreValid()
    {
        new McpServersOptions().Validate();
        McpTestServers.Global("github", new McpServerOptions { Command = "npx" }).Validate();
        McpTestServers.Global("remote-1", new McpServerOptions { Url = "https://example.com/mcp" }).Validate();
    }

    [Theory]
    [InlineData("GitHub")]
    [InlineData("my_server")]
    [InlineData("-lead")]
    [InlineData("a.b")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456")]
    public void Validate_BadServerName_NamesTheKeyAndTheRule(string name)
    {
        Action act = () => McpTestServers.Global(name, new McpServerOptions { Command = "npx" }).Validate();

        act.Should().Throw<ArgumentException>().WithMessage($"McpServersOptions is not valid:*- KestrelCloud:Mcp:Servers:{name}: '{name}' is not a valid MCP server name; use 1-32 lowercase letters, digits and '-'*");
    }

    [Fact]
    public void Validate_CommandAndUrl_ReportsEveryProblemWithItsKey()
    {
        var options = new McpServersOptions
        {
            Servers = new Dictionary<string, McpServerOptions>
            {
                ["both"] = new() { Command = "npx", Url = "https://example.com/mcp" },
                ["neither"] = new(),
                ["badurl"] = new() { Url = "ftp://example.com/mcp" },
                ["mixed"] = new() { Url = "https://example.com/mcp", Env = new Dictionary<string, string> { ["A"] = "1" } },
                ["headers"] = new() { Command = "npx", Headers = new Dictionary<string, string> { ["Authorization"] = "x" } },
                ["slow"] = new() { Command = "npx", ConnectTimeout = TimeSpan.Zero, CallTimeout = TimeSpan.FromHours(2) },
                ["env"] = new() { Command = "npx", Env = new Dictionary<string, string> { ["A=B"] = "1" } },
            },
            MaxResultSizeBytes = 10,
        };

        Action act = options.Validate;

        string message = act.Should().Throw<ArgumentException>().Which.Message;
        message.Should().Contain("KestrelCloud:Mcp:Servers:both: set either Command (a stdio server) or Url (a streamable HTTP server), not both.");
        message.Should().Contain("KestrelCloud:Mcp:Servers:neither: set Command (a stdio server, e.g. \"npx\") or Url (a streamable HTTP server, e.g. \"https://example.com/mcp\").");
        message.Should().Contain("KestrelCloud:Mcp:Servers:badurl:Url must be an absolute http or https URL; it is 'ftp://example.com/mcp'.");
        message.Should().Contain("KestrelCloud:Mcp:Servers:mixed: Args, Env and WorkingDirectory apply only to stdio servers (Command)");
        message.Should().Contain("KestrelCloud:Mcp:Servers:headers:Headers apply only to HTTP servers (Url)");
        message.Should().Contain("KestrelCloud:Mcp:Servers:slow:ConnectTimeout must be between 1 second and 10 minutes; it is 00:00:00.");
        message.Should().Contain("KestrelCloud:Mcp:Servers:slow:CallTimeout must be between 1 second and 1 hour; it is 02:00:00.");
        message.Should().Contain("KestrelCloud:Mcp:Servers:env:Env names must not be empty or contain '='");
        message.Should().Contain("KestrelCloud:Mcp:MaxResultSizeBytes must be between 1024 and 16777216; it is 10.");
    }

    [Fact]
    public async Task AddMcpTools_BindsTheSectionAndRegistersTheSource()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KestrelCloud:Mcp:Servers:everything:Command"] = "node",
            ["KestrelCloud:Mcp:Servers:everything:Args:0"] = "server.js",
            ["KestrelCloud:Mcp:Servers:everything:Env:TOKEN"] = "t",
            ["KestrelCloud:Mcp:Servers:everything:CallTimeout"] = "00:00:05",
            ["KestrelCloud:Mcp:Servers:remote:Url"] = "https://example.com/mcp",
            ["KestrelCloud:Mcp:Servers:remote:Enabled"] = "false",
            ["KestrelCloud:Mcp:StartupWait"] = "00:00:00",
        }).Build();
        var services = new ServiceCollection().AddLogging();

        services.AddMcpTools(configuration);

        await using ServiceProvider provider = services.BuildServiceProvider();
        McpServersOptions bound = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<McpServersOptions>>().Value;
        bound.Servers["everything"].Args.Should().Equal("server.js");
        bound.Servers["everything"].Env.Should().Equal(new Dictionary<string, string> { ["TOKEN"] = "t" });
        bound.Servers["everything"].CallTimeout.Should().Be(TimeSpan.FromSeconds(5));
        bound.Servers["remote"].Enabled.Should().BeFalse();
        bound.StartupWait.Should().Be(TimeSpan.Zero);
        provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>().Should().ContainSingle().Which.Should().BeOfType<McpToolsHostedService>();
        McpToolSource source = provider.GetRequiredService<McpToolSource>();
        provider.GetServices<Kestrel.Cloud.Agents.Tools.IToolSource>().Should().ContainSingle().Which.Should().BeSameAs(source);
        source.GetStatus().Select(s => (s.Server, s.Transport, s.State)).Should().Equal(
            ("everything", "stdio", McpServerState.Connecting),
            ("remote", "http", McpServerState.Disabled));
        var registry = ActivatorUtilities.CreateInstance<Kestrel.Cloud.Agents.Tools.ToolRegistry>(provider, new[] { (Kestrel.Cloud.Agents.Tools.IAgentTool)new NamedTool("local") }, provider.GetServices<Kestrel.Cloud.Agents.Tools.IToolSource>());
        registry.Tools.Select(t => t.Name).Should().Equal("local");
    }

    [Fact]
    public void AddMcpTools_InvalidSection_ThrowsNamingTheKey()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KestrelCloud:Mcp:Servers:GitHub:Command"] = "npx",
            ["KestrelCloud:Mcp:Servers:docs:Url"] = "not a url",
        }).Build();

        Action act = () => new ServiceCollection().AddMcpTools(configuration);

        string message = act.Should().Throw<ArgumentException>().Which.Message;
        message.Should().Contain("KestrelCloud:Mcp:Servers:GitHub: 'GitHub' is not a valid MCP server name");
        message.Should().Contain("KestrelCloud:Mcp:Servers:docs:Url must be an absolute http or https URL; it is 'not a url'.");
    }

    private sealed class NamedTool(string name) : Kestrel.Cloud.Agents.Tools.IAgentTool
    {
        public string Name => name;

        public string Description => "test";

        public System.Text.Json.JsonElement ParametersSchema => Support.Json.Args(new { type = "object" });

        public bool IsReadOnly => true;

        public Task<Kestrel.Cloud.Agents.Tools.ToolResult> InvokeAsync(System.Text.Json.JsonElement arguments, Kestrel.Cloud.Agents.Tools.ToolInvocationContext context, CancellationToken cancellationToken) =>
            Task.FromResult(Kestrel.Cloud.Agents.Tools.ToolResult.Success("ok"));
    }
}
