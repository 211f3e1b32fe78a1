using Kestrel.Cloud.Agents.Tools.Files;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Tests.Tools.Files;

public sealed class WorkspacePathGuardTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly string root;
    private readonly string outside;
    private readonly WorkspacePathGuard guard;

    public WorkspacePathGuardTests()
    {
        this.root = Path.Join(this.temp.Path, "workspace");
        this.outside = Path.Join(this.temp.Path, "outside");
        Directory.CreateDirectory(Path.Join(this.root, "docs", "deep"));
        Directory.CreateDirectory(this.outside);
        File.WriteAllText(Path.Join(this.root, "docs", "a.md"), "inside");
        File.WriteAllText(Path.Join(this.outside, "secret.txt"), "secret");
        this.guard = new WorkspacePathGuard(this.root);
    }

    public void Dispose() => this.temp.Dispose();

    [Theory]
    [InlineData("docs/a.md", "docs/a.md")]
    [InlineData("./docs//a.md", "docs/a.md")]
    [InlineData("docs\\a.md", "docs/a.md")]
    [InlineData("", ".")]
    [InlineData(".", ".")]
    [InlineData("new/folder/file.txt", "new/folder/file.txt")]
    [InlineData("..foo", "..foo")]
    [InlineData("~notes", "~notes")]
    public void Resolve_PathsInside_Accepted(string path, string relative)
    {
        WorkspacePath resolved = this.guard.Resolve(path);

        resolved.RelativePath.Should().Be(relative);
        WorkspacePathGuard.IsInside(resolved.FullPath, this.guard.RealRoot).Should().BeTrue();
    }

    [Theory]
    [InlineData("../outside/secret.txt", "The path '../outside/secret.txt' leaves the workspace: '..' is not allowed; use a path relative to the workspace root.")]
    [InlineData("docs/../../outside", "The path 'docs/../../outside' leaves the workspace: '..' is not allowed; use a path relative to the workspace root.")]
    [InlineData("docs/..", "The path 'docs/..' leaves the workspace: '..' is not allowed; use a path relative to the workspace root.")]
    [InlineData("..\\outside", "The path '..\\outside' leaves the workspace: '..' is not allowed; use a path relative to the workspace root.")]
    [InlineData("/etc/passwd", "The path '/etc/passwd' is absolute; use a path relative to the workspace root, such as 'notes/todo.md'.")]
    [InlineData("\\\\server\\share\\x", "The path '\\\\server\\share\\x' is absolute; use a path relative to the workspace root, such as 'notes/todo.md'.")]
    [InlineData("~/x", "The path '~/x' is absolute; use a path relative to the workspace root, such as 'notes/todo.md'.")]
    [InlineData("C:\\Windows\\win.ini", "The path 'C:\\Windows\\win.ini' names a drive; use a path relative to the workspace root, such as 'notes/todo.md'.")]
    [InlineData("c:secret", "The path 'c:secret' names a drive; use a path relative to the workspace root, such as 'notes/todo.md'.")]
    [InlineData("docs/a.md\0.png", "The path contains a NUL character; use a plain relative path such as 'notes/todo.md'.")]
    public void Resolve_TraversalAndAbsolutePaths_RefusedWithReason(string path, string message)
    {
        Action act = () => this.guard.Resolve(path);

        act.Should().Throw<WorkspacePathException>().Which.Message.Should().Be(message);
    }

    [Fact]
    public void Resolve_TooLong_Refused()
    {
        Action act = () => this.guard.Resolve(new string('a', 1025));

        act.Should().Throw<WorkspacePathException>().WithMessage("The path is 1025 characters long; the limit is 1024.");
    }

    [Fact]
    public void Resolve_FileSymlinkPointingOutside_Refused()
    {
        File.CreateSymbolicLink(Path.Join(this.root, "docs", "leak.txt"), Path.Join(this.outside, "secret.txt"));

        Action act = () => this.guard.Resolve("docs/leak.txt");

        act.Should().Throw<WorkspacePathException>().Which.Message
            .Should().Be("The path 'docs/leak.txt' leads outside the workspace through the symbolic link 'docs/leak.txt'; only files inside the workspace can be used.");
    }

    [Fact]
    public void Resolve_DirectorySymlinkInTheMiddle_Refused()
    {
        Directory.CreateSymbolicLink(Path.Join(this.root, "docs", "out"), this.outside);

        Action act = () => this.guard.Resolve("docs/out/secret.txt");

        act.Should().Throw<WorkspacePathException>().Which.Message.Should().Contain("through the symbolic link 'docs/out'");
    }

    [Fact]
    public void Resolve_RelativeSymlinkClimbingOut_Refused()
    {
        File.CreateSymbolicLink(Path.Join(this.root, "docs", "deep", "up"), "../../../outside/secret.txt");

        Action act = () => this.guard.Resolve("docs/deep/up");

        act.Should().Throw<WorkspacePathException>().Which.Message.Should().Contain("through the symbolic link 'docs/deep/up'");
    }

    [Fact]
    public void Resolve_SymlinkChainEndingOutside_Refused()
    {
        File.CreateSymbolicLink(Path.Join(this.outside, "hop"), Path.Join(this.outside, "secret.txt"));
        File.CreateSymbolicLink(Path.Join(this.root, "first"), Path.Join(this.root, "second"));
        File.CreateSymbolicLink(Path.Join(this.root, "second"), Path.Join(this.outside, "hop"));

        Action act = () => this.guard.Resolve("first");

        act.Should().Throw<WorkspacePathException>().Which.Message.Should().Contain("through the symbolic link 'first'");
    }

    [Fact]
    public void Resolve_LinkWhoseTargetDirIsALinkOutside_Refused()
    {
        // inside/x -> ./via/../../outside : "via" is itself a link, so '..' must be applied after resolving it.
        Directory.CreateSymbolicLink(Path.Join(this.root, "via"), Path.Join(this.outside));
        Directory.CreateDirectory(Path.Join(this.outside, "sub"));
        Directory.CreateSymbolicLink(Path.Join(this.root, "docs", "tricky"), Path.Join(this.root, "via", "sub", ".."));

        Action act = () => this.guard.Resolve("docs/tricky/secret.txt");

        act.Should().Throw<WorkspacePathException>();
    }

    [Fact]
    public void Resolve_SymlinkLoop_Refused()
    {
        File.CreateSymbolicLink(Path.Join(this.root, "loop-a"), Path.Join(this.root, "loop-b"));
        File.CreateSymbolicLink(Path.Join(this.root, "loop-b"), Path.Join(this.root, "loop-a"));

        Action act = () => this.guard.Resolve("loop-a");

        act.Should().Throw<WorkspacePathException>().Which.Message.Should().Contain("too many levels of symbolic links");
    }

    [Fact]
    public void Resolve_SymlinkStayingInside_AcceptedAndResolvedToTarget()
    {
        Directory.CreateSymbolicLink(Path.Join(this.root, "shortcut"), Path.Join(this.root, "docs"));

        WorkspacePath resolved = this.guard.Resolve("shortcut/a.md");

        resolved.FullPath.Should().Be(Path.Join(this.guard.RealRoot, "docs", "a.md"));
        File.ReadAllText(resolved.FullPath).Should().Be("inside");
    }

    [Fact]
    public void Resolve_RootReachedThroughSymlink_Works()
    {
        string alias = Path.Join(this.temp.Path, "alias");
        Directory.CreateSymbolicLink(alias, this.root);
        var aliased = new WorkspacePathGuard(alias);

        aliased.RealRoot.Should().Be(this.root);
        aliased.Resolve("docs/a.md").FullPath.Should().Be(Path.Join(this.root, "docs", "a.md"));
    }
}
