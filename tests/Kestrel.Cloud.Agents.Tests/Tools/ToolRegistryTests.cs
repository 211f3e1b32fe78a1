using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Policy;
using Kestrel.Cloud.Agents.Tests.Support;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tests.Tools;

public class ToolRegistryTests
{
    private static readonly ToolInvocationContext Context = new("bot", Path.GetTempPath(), "run-1", "call-1");

    [Fact]
    public void Constructor_DuplicateNames_Throws()
    {
        Action act = () => new ToolRegistry(new[] { new FakeTool("a"), new FakeTool("a") });

        act.Should().Throw<ArgumentException>().WithMessage("Two tools are named 'a'; tool names must be unique.*");
    }

    [Theory]
    [InlineData("files.read")]
    [InlineData("has space")]
    [InlineData("")]
    public void Constructor_NameProvidersRefuse_Throws(string name)
    {
        Action act = () => new ToolRegistry(new[] { new FakeTool(name) });

        act.Should().Throw<ArgumentException>().WithMessage($"The tool name '{name}' is not valid*");
    }

    [Fact]
    public void Constructor_InvalidOptions_ReportsEveryError()
    {
        Action act = () => new ToolRegistry(Array.Empty<IAgentTool>(), Options.Create(new ToolRegistryOptions { MaxResultSizeBytes = 10 }));

        act.Should().Throw<ArgumentException>().WithMessage("ToolRegistryOptions is not valid:*The value for MaxResultSizeBytes must be between 1024 and 16777216; it is 10.");
    }

    [Fact]
    public void Select_Patterns_ReturnsMatchingToolsInRegistrationOrder()
    {
        var registry = new ToolRegistry(new IAgentTool[]
        {
            new FakeTool("http_fetch"), new FakeTool("files_read"), new FakeTool("files_write"), new FakeTool("gh_issue") { Server = "github", ServerToolName = "issue" },
        });

        registry.Select(new[] { ToolPattern.Parse("files_*"), ToolPattern.Parse("mcp:github/*") }).Select(t => t.Name)
            .Should().Equal("files_read", "files_write", "gh_issue");
        registry.Select(Array.Empty<ToolPattern>()).Should().BeEmpty();
    }

    [Fact]
    public void ToAITools_DescribesNameDescriptionAndSchema()
    {
        var tool = new FakeTool("lookup");

        IList<AITool> declarations = new IAgentTool[] { tool }.ToAITools();

        AIFunctionDeclaration declaration = declarations.Should().ContainSingle().Which.Should().BeAssignableTo<AIFunctionDeclaration>().Subject;
        declaration.Should().NotBeAssignableTo<AIFunction>("tools run through the orchestration, not the chat client");
        declaration.Name.Should().Be("lookup");
        declaration.Description.Should().Be("Fake tool lookup.");
        declaration.JsonSchema.GetProperty("properties").GetProperty("q").GetProperty("type").GetString().Should().Be("string");
    }

    [Fact]
    public async Task InvokeAsync_LongResult_CutWithExplicitNote()
    {
        var registry = new ToolRegistry(new[] { new FakeTool("big") }, Options.Create(new ToolRegistryOptions { MaxResultSizeBytes = 2048 }));
        var tool = new FakeTool("big") { Run = (_, _) => Task.FromResult(ToolResult.Success(new string('é', 5000))) };

        ToolResult result = await registry.InvokeAsync(tool, default, Context, TimeSpan.FromMinutes(1));

        result.IsTruncated.Should().BeTrue();
        Encoding.UTF8.GetByteCount(result.Text).Should().BeLessThanOrEqualTo(2048);
        result.Text.Should().StartWith("éé").And.EndWith("[output truncated: showing the first 1,792 of 10,000 bytes; the limit is 2,048 bytes. Ask for less, e.g. a line range or a narrower search.]");
    }

    [Fact]
    public async Task InvokeAsync_DefaultCap_Is16KiB()
    {
        var registry = new ToolRegistry(Array.Empty<IAgentTool>());
        var tool = new FakeTool("big") { Run = (_, _) => Task.FromResult(ToolResult.Success(new string('x', 16_385))) };

        ToolResult result = await registry.InvokeAsync(tool, default, Context, TimeSpan.FromMinutes(1));

        result.IsTruncated.Should().BeTrue();
        Encoding.UTF8.GetByteCount(result.Text).Should().BeLessThanOrEqualTo(16_384);
        (await registry.InvokeAsync(new FakeTool("ok") { Run = (_, _) => Task.FromResult(ToolResult.Success(new string('x', 16_384))) }, default, Context, TimeSpan.FromMinutes(1)))
            .IsTruncated.Should().BeFalse();
    }

    [Fact]
    public async Task InvokeAsync_ToolException_MessageReachesModel()
    {
        var registry = new ToolRegistry(Array.Empty<IAgentTool>());
        var tool = new FakeTool("t") { Run = (_, _) => throw new ToolException("The argument 'q' is required.") };

        ToolResult result = await registry.InvokeAsync(tool, default, Context, TimeSpan.FromMinutes(1));

        result.Should().Be(ToolResult.Error("The argument 'q' is required."));
    }

    [Fact]
    public async Task InvokeAsync_UnexpectedException_GenericErrorWithIdAndNoDetails()
    {
        var registry = new ToolRegistry(Array.Empty<IAgentTool>());
        var tool = new FakeTool("t") { Run = (_, _) => throw new InvalidOperationException("connection string Password=hunter2") };

        ToolResult result = await registry.InvokeAsync(tool, default, Context, TimeSpan.FromMinutes(1));

        result.IsError.Should().BeTrue();
        result.Text.Should().MatchRegex("^The tool t failed with an internal error \\(error id [0-9a-f]{12}\\); the details are in the server log\\.$");
        result.Text.Should().NotContain("hunter2");
    }

    [Fact]
    public async Task InvokeAsync_ToolOutlivesTimeout_ReturnsTimeoutErrorOnFakeClock()
    {
        var clock = new ManualTimeProvider();
        var registry = new ToolRegistry(Array.Empty<IAgentTool>(), timeProvider: clock);
        var started = new TaskCompletionSource();
        CancellationToken seen = default;
        var tool = new FakeTool("slow")
        {
            Run = async (_, ct) =>
            {
                seen = ct;
                started.SetResult();
                await Task.Delay(Timeout.Infinite, ct);
                return ToolResult.Success("never");
            },
        };

        Task<ToolResult> call = registry.InvokeAsync(tool, default, Context, TimeSpan.FromSeconds(30));
        await started.Task;
        clock.Advance(TimeSpan.FromSeconds(29));
        call.IsCompleted.Should().BeFalse();
        clock.Advance(TimeSpan.FromSeconds(1));
        ToolResult result = await call;

        result.Should().Be(ToolResult.Error("The tool slow did not finish within 30s and was stopped."));
        seen.IsCancellationRequested.Should().BeTrue("the tool is told to stop");
    }

    [Fact]
    public async Task InvokeAsync_CallerCancels_Rethrows()
    {
        var registry = new ToolRegistry(Array.Empty<IAgentTool>());
        using var cts = new CancellationTokenSource();
        var tool = new FakeTool("slow") { Run = async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return ToolResult.Success("x"); } };

        Task<ToolResult> call = registry.InvokeAsync(tool, default, Context, TimeSpan.FromMinutes(1), cts.Token);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public void ToolArguments_WrongTypes_NameTheArgument()
    {
        JsonElement args = Json.Args(new { path = 5, limit = "x", flag = "maybe" });

        Assert.Throws<ToolException>(() => ToolArguments.GetRequiredString(args, "path")).Message.Should().Be("The argument 'path' must be a string (found the number 5).");
        Assert.Throws<ToolException>(() => ToolArguments.GetInt32(args, "limit", 1, 10)).Message.Should().Be("The argument 'limit' must be a whole number between 1 and 10 (found the string \"x\").");
        Assert.Throws<ToolException>(() => ToolArguments.GetBoolean(args, "flag")).Message.Should().Be("The argument 'flag' must be true or false (found the string \"maybe\").");
        Assert.Throws<ToolException>(() => ToolArguments.GetRequiredString(args, "missing")).Message.Should().Be("The argument 'missing' is required.");
        Assert.Throws<ToolException>(() => ToolArguments.GetString(Json.Args(new[] { 1 }), "x")).Message.Should().Be("The arguments must be a JSON object (found an array).");
    }

    private sealed class FakeTool : IAgentTool
    {
        public FakeTool(string name) => this.Name = name;

        public string Name { get; }

        public string Description => $"Fake tool {this.Name}.";

        public JsonElement ParametersSchema { get; } = JsonDocument.Parse("""{"type":"object","properties":{"q":{"type":"string"}}}""").RootElement.Clone();

        public bool IsReadOnly => true;

        public string? Server { get; init; }

        public string? ServerToolName { get; init; }

        public string? McpServer => this.Server;

        public string? McpToolName => this.ServerToolName;

        public Func<JsonElement, CancellationToken, Task<ToolResult>> Run { get; init; } = (_, _) => Task.FromResult(ToolResult.Success("ok"));

        public Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken) => this.Run(arguments, cancellationToken);
    }
}
