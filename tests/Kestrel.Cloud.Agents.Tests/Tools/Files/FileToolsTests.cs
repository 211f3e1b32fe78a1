using System.Text.Json;
using Kestrel.Cloud.Agents.Tests.Support;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Agents.Tools.Files;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tests.Tools.Files;

public sealed class FileToolsTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly string root;
    private readonly ToolInvocationContext context;

    public FileToolsTests()
    {
        this.root = Path.Join(this.temp.Path, "files");
        Directory.CreateDirectory(this.root);
        this.context = new ToolInvocationContext("bot", this.root);
    }

    public void Dispose() => this.temp.Dispose();

    private Task<ToolResult> Run(IAgentTool tool, object args) => tool.InvokeAsync(Json.Args(args), this.context, CancellationToken.None);

    private void Write(string relative, string content)
    {
        string full = Path.Join(this.root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }

    [Fact]
    public void ReadOnlyFlags_ReadListSearchAreReadOnly_WriteEditAreNot()
    {
        new FileReadTool().IsReadOnly.Should().BeTrue();
        new FileListTool().IsReadOnly.Should().BeTrue();
        new FileSearchTool().IsReadOnly.Should().BeTrue();
        new FileWriteTool().IsReadOnly.Should().BeFalse();
        new FileEditTool().IsReadOnly.Should().BeFalse();
    }

    [Fact]
    public async Task Read_OffsetAndLimit_ReturnsNumberedLinesAndSaysMoreFollow()
    {
        this.Write("notes.md", string.Join('\n', Enumerable.Range(1, 10).Select(i => $"line {i}")));

        ToolResult result = await this.Run(new FileReadTool(), new { path = "notes.md", offset = 3, limit = 2 });

        result.Text.Should().Be("notes.md: lines 3-4 (more follow; continue with offset 5)\n     3\tline 3\n     4\tline 4\n");
    }

    [Fact]
    public async Task Read_ToTheEnd_SaysTotal()
    {
        this.Write("short.txt", "a\nb\n");

        (await this.Run(new FileReadTool(), new { path = "short.txt" })).Text.Should().Be("short.txt: lines 1-2 of 2\n     1\ta\n     2\tb\n");
        (await this.Run(new FileReadTool(), new { path = "short.txt", offset = 9 })).Text.Should().Be("short.txt: no lines from line 9 (the file has 2 lines).\n");
    }

    [Fact]
    public async Task Read_LimitAboveMaximum_Refused()
    {
        this.Write("a.txt", "a");
        var tool = new FileReadTool(Options.Create(new FileToolOptions { MaxReadLines = 50 }));

        var ex = await Assert.ThrowsAsync<ToolException>(() => this.Run(tool, new { path = "a.txt", limit = 51 }));

        ex.Message.Should().Be("The argument 'limit' must be between 1 and 50 (found 51).");
    }

    [Fact]
    public async Task Read_MissingFolderOrBinary_ClearErrors()
    {
        Directory.CreateDirectory(Path.Join(this.root, "dir"));
        File.WriteAllBytes(Path.Join(this.root, "image.png"), new byte[] { 0x89, 0x50, 0x00, 0x01 });

        (await Assert.ThrowsAsync<ToolException>(() => this.Run(new FileReadTool(), new { path = "nope.txt" }))).Message
            .Should().Be("'nope.txt' does not exist; use files_list to see which files there are.");
        (await Assert.ThrowsAsync<ToolException>(() => this.Run(new FileReadTool(), new { path = "dir" }))).Message
            .Should().Be("'dir' is a folder; use files_list to see what it contains.");
        (await Assert.ThrowsAsync<ToolException>(() => this.Run(new FileReadTool(), new { path = "image.png" }))).Message
            .Should().Be("'image.png' is a binary file (4 bytes); files_read works on text files only.");
    }

    [Fact]
    public async Task Read_ThroughEscapingSymlink_Refused()
    {
        string secret = Path.Join(this.temp.Path, "secret.txt");
        File.WriteAllText(secret, "TOP SECRET");
        File.CreateSymbolicLink(Path.Join(this.root, "innocent.txt"), secret);

        var ex = await Assert.ThrowsAsync<WorkspacePathException>(() => this.Run(new FileReadTool(), new { path = "innocent.txt" }));

        ex.Message.Should().Contain("leads outside the workspace through the symbolic link 'innocent.txt'");
    }

    [Fact]
    public async Task Write_NewFileInNewFolder_CreatedAtomically()
    {
        ToolResult result = await this.Run(new FileWriteTool(), new { path = "out/report.md", content = "# Report\n" });

        result.Text.Should().Be("Created out/report.md (9 bytes).");
        File.ReadAllText(Path.Join(this.root, "out", "report.md")).Should().Be("# Report\n");
        Directory.GetFiles(Path.Join(this.root, "out")).Should().ContainSingle("the temp file was renamed, not left behind");
        (await this.Run(new FileWriteTool(), new { path = "out/report.md", content = "v2" })).Text.Should().Be("Replaced out/report.md (2 bytes).");
    }

    [Fact]
    public async Task Write_TooLarge_Refused()
    {
        var tool = new FileWriteTool(Options.Create(new FileToolOptions { MaxWriteSizeBytes = 10 }));

        var ex = await Assert.ThrowsAsync<ToolException>(() => this.Run(tool, new { path = "a.txt", content = new string('x', 11) }));

        ex.Message.Should().Be("The content is 11 bytes; files_write writes at most 10 bytes per file.");
        File.Exists(Path.Join(this.root, "a.txt")).Should().BeFalse();
    }

    [Fact]
    public async Task Write_ThroughDirectorySymlinkOutside_RefusedAndNothingWritten()
    {
        string outside = Path.Join(this.temp.Path, "outside");
        Directory.CreateDirectory(outside);
        Directory.CreateSymbolicLink(Path.Join(this.root, "link"), outside);

        await Assert.ThrowsAsync<WorkspacePathException>(() => this.Run(new FileWriteTool(), new { path = "link/evil.sh", content = "x" }));

        Directory.GetFiles(outside).Should().BeEmpty();
    }

    [Fact]
    public async Task Write_Traversal_Refused()
    {
        await Assert.ThrowsAsync<WorkspacePathException>(() => this.Run(new FileWriteTool(), new { path = "../escaped.txt", content = "x" }));

        File.Exists(Path.Join(this.temp.Path, "escaped.txt")).Should().BeFalse();
    }

    [Fact]
    public async Task Edit_UniqueMatch_Replaced()
    {
        this.Write("a.txt", "one\ntwo\nthree\n");

        ToolResult result = await this.Run(new FileEditTool(), new { path = "a.txt", old_text = "two", new_text = "2" });

        result.Text.Should().Be("Edited a.txt: replaced 1 occurrence at line 2.");
        File.ReadAllText(Path.Join(this.root, "a.txt")).Should().Be("one\n2\nthree\n");
    }

    [Fact]
    public async Task Edit_NoMatch_ClearErrorAndFileUnchanged()
    {
        this.Write("a.txt", "one two");

        var ex = await Assert.ThrowsAsync<ToolException>(() => this.Run(new FileEditTool(), new { path = "a.txt", old_text = "One", new_text = "1" }));

        ex.Message.Should().Be("old_text was not found in a.txt; read the file and copy the exact text, including whitespace and line breaks.");
        File.ReadAllText(Path.Join(this.root, "a.txt")).Should().Be("one two");
    }

    [Fact]
    public async Task Edit_SeveralMatches_ClearErrorWithCountAndFileUnchanged()
    {
        this.Write("a.txt", "aaa");

        var ex = await Assert.ThrowsAsync<ToolException>(() => this.Run(new FileEditTool(), new { path = "a.txt", old_text = "aa", new_text = "b" }));

        ex.Message.Should().Be("old_text occurs 2 times in a.txt; include more of the surrounding lines so that it matches exactly once.");
        File.ReadAllText(Path.Join(this.root, "a.txt")).Should().Be("aaa");
    }

    [Fact]
    public async Task Edit_EmptyOldText_Refused()
    {
        this.Write("a.txt", "x");

        (await Assert.ThrowsAsync<ToolException>(() => this.Run(new FileEditTool(), new { path = "a.txt", old_text = "", new_text = "y" }))).Message
            .Should().Be("old_text is empty; give the exact text to replace (to write a whole file, use files_write).");
    }

    [Fact]
    public async Task List_Root_SortedWithFoldersSizesAndLinks()
    {
        this.Write("b.txt", "12345");
        this.Write("a/inner.txt", "x");
        File.CreateSymbolicLink(Path.Join(this.root, "c-link"), "/etc");

        (await this.Run(new FileListTool(), new { })).Text.Should().Be("Workspace root: 3 entries.\na/\nb.txt (5 bytes)\nc-link -> (symbolic link)");
        (await this.Run(new FileListTool(), new { recursive = true })).Text.Should().Be("Workspace root: 4 entries.\na/\na/inner.txt (1 bytes)\nb.txt (5 bytes)\nc-link -> (symbolic link)");
    }

    [Fact]
    public async Task List_StopsAtLimit()
    {
        for (int i = 0; i < 5; i++)
        {
            this.Write($"f{i}.txt", "x");
        }

        var tool = new FileListTool(Options.Create(new FileToolOptions { MaxListEntries = 3 }));

        (await this.Run(tool, new { })).Text.Should().StartWith("Workspace root: 3 entries (stopped at the limit of 3; list a sub-folder for more).");
    }

    [Fact]
    public async Task List_FolderBehindEscapingLink_Refused()
    {
        Directory.CreateSymbolicLink(Path.Join(this.root, "etc"), "/etc");

        await Assert.ThrowsAsync<WorkspacePathException>(() => this.Run(new FileListTool(), new { path = "etc" }));
    }

    [Fact]
    public async Task Search_Substring_CaseInsensitiveByDefault()
    {
        this.Write("a.md", "Hello World\nnothing\n");
        this.Write("sub/b.md", "say hello\n");

        ToolResult result = await this.Run(new FileSearchTool(), new { query = "hello" });

        result.Text.Should().Be("2 matches for \"hello\".\na.md:1: Hello World\nsub/b.md:1: say hello");
        (await this.Run(new FileSearchTool(), new { query = "hello", case_sensitive = true })).Text.Should().Be("1 matches for \"hello\".\nsub/b.md:1: say hello");
    }

    [Fact]
    public async Task Search_Regex_MatchesAndInvalidRegexExplained()
    {
        this.Write("a.txt", "id=42\nid=x\n");

        (await this.Run(new FileSearchTool(), new { query = "id=\\d+", regex = true })).Text.Should().Be("1 matches for \"id=\\d+\".\na.txt:1: id=42");
        (await Assert.ThrowsAsync<ToolException>(() => this.Run(new FileSearchTool(), new { query = "(", regex = true }))).Message
            .Should().StartWith("The regular expression is not valid:");
    }

    [Fact]
    public async Task Search_SkipsLinksBinaryAndLargeFiles_AndStopsAtResultLimit()
    {
        string outside = Path.Join(this.temp.Path, "outside.txt");
        File.WriteAllText(outside, "needle outside");
        File.CreateSymbolicLink(Path.Join(this.root, "link.txt"), outside);
        File.WriteAllBytes(Path.Join(this.root, "bin.dat"), new byte[] { (byte)'n', (byte)'e', (byte)'e', (byte)'d', (byte)'l', (byte)'e', 0 });
        this.Write("big.txt", "needle " + new string('x', 100));
        this.Write("many.txt", string.Join('\n', Enumerable.Repeat("needle", 5)));
        var tool = new FileSearchTool(Options.Create(new FileToolOptions { MaxSearchFileSizeBytes = 50, MaxSearchResults = 3 }));

        ToolResult result = await tool.InvokeAsync(Json.Args(new { query = "needle" }), this.context, CancellationToken.None);

        result.Text.Should().Be("3 matches for \"needle\" (2 binary, linked or large files skipped); stopped at 3 matches; narrow the query or the path.\nmany.txt:1: needle\nmany.txt:2: needle\nmany.txt:3: needle");
        result.Text.Should().NotContain("outside");
    }
}
