using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Mcp;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>The real server-filesystem, allowed one temporary folder.</summary>
public sealed class McpFilesystemTests : IAsyncLifetime
{
    private readonly TempDirectory allowed = new("mcp-fs");
    private readonly TempDirectory outside = new("mcp-fs-outside");
    private McpServerConnection connection = null!;

    public async Task InitializeAsync()
    {
        var server = new McpServerOptions
        {
            Command = "node",
            Args = [await McpTestServers.FilesystemScriptAsync(), this.allowed.Path],
            ConnectTimeout = McpTestServers.Timeout,
        };
        this.connection = McpTestServers.Connection("fs", server);
        (await this.connection.ConnectAsync().WaitAsync(McpTestServers.Timeout)).Should().BeTrue(this.connection.Status.Reason);
    }

    public async Task DisposeAsync()
    {
        await this.connection.DisposeAsync().AsTask().WaitAsync(McpTestServers.Timeout);
        this.allowed.Dispose();
        this.outside.Dispose();
    }

    [Fact]
    public void Tools_AnnotationsClassifyReadsAndWrites()
    {
        this.connection.Tool("read_text_file").Name.Should().Be("fs__read_text_file");
        this.connection.Tool("read_text_file").IsReadOnly.Should().BeTrue();
        this.connection.Tool("list_directory").IsReadOnly.Should().BeTrue();
        this.connection.Tool("write_file").IsReadOnly.Should().BeFalse();
        this.connection.Tool("move_file").IsReadOnly.Should().BeFalse();
    }

    [Fact]
    public async Task WriteThenRead_InsideTheAllowedFolder_Works()
    {
        string path = Path.Combine(this.allowed.Path, "notes.txt");

        ToolResult written = await this.connection.Tool("write_file").CallAsync(new { path, content = "line one\nline two" });
        ToolResult read = await this.connection.Tool("read_text_file").CallAsync(new { path });

        written.IsError.Should().BeFalse(written.Text);
        File.ReadAllText(path).Should().Be("line one\nline two");
        read.Should().Be(new ToolResult("line one\nline two"));
    }

    [Fact]
    public async Task Read_OutsideTheAllowedFolder_IsAToolError()
    {
        string secret = Path.Combine(this.outside.Path, "secret.txt");
        File.WriteAllText(secret, "do not read");

        ToolResult read = await this.connection.Tool("read_text_file").CallAsync(new { path = secret });

        read.IsError.Should().BeTrue();
        read.Text.Should().Contain("Access denied").And.NotContain("do not read");
    }
}
