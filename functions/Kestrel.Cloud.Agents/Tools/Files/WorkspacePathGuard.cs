namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary>
/// Confines paths to a workspace folder. A path must be relative; '..' segments, absolute paths, drive letters,
/// UNC paths and NUL characters are refused. Symbolic links are resolved component by component (like POSIX
/// <c>realpath</c>) and the real path must stay inside the real workspace root, so a link anywhere in the path
/// that points outside is refused. '\' is treated as a separator.
/// </summary>
/// <remarks>
/// The check happens when the path is resolved; a link created between the check and the use (by something with
/// shell access) is not caught. The file tools never create links. Hard links cannot be told apart from files.
/// </remarks>
public sealed class WorkspacePathGuard
{
    /// <summary>The longest path accepted, in characters.</summary>
    public const int MaxPathLength = 1024;

    private const int MaxLinkHops = 40;

    private static readonly StringComparison PathComparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS()
        ? StringComparison.OrdinalIgnoreCase
        : StringComparison.Ordinal;

    /// <summary>Creates a guard for <paramref name="rootDirectory"/> (an absolute path; it need not exist yet).</summary>
    public WorkspacePathGuard(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        if (!Path.IsPathFullyQualified(rootDirectory))
        {
            throw new ArgumentException($"The workspace root '{rootDirectory}' must be an absolute path.", nameof(rootDirectory));
        }

        this.RootDirectory = Path.GetFullPath(rootDirectory);
    }

    /// <summary>The workspace root as given (made absolute).</summary>
    public string RootDirectory { get; }

    /// <summary>The root with every symbolic link resolved.</summary>
    public string RealRoot => RealPath(this.RootDirectory);

    /// <summary>
    /// Resolves <paramref name="path"/> inside the workspace; "", "." and "/"-free relative paths are accepted.
    /// The target need not exist. Throws <see cref="WorkspacePathException"/> when the path is refused.
    /// </summary>
    public WorkspacePath Resolve(string? path)
    {
        string[] segments = Split(path);
        string realRoot = this.RealRoot;
        string current = realRoot;
        for (int i = 0; i < segments.Length; i++)
        {
            string next = Path.Join(current, segments[i]);
            string? target = LinkTarget(next);
            if (target is not null)
            {
                string resolved = RealPath(Path.IsPathRooted(target) ? target : Path.Join(current, target));
                if (!IsInside(resolved, realRoot))
                {
                    string via = string.Join('/', segments.Take(i + 1));
                    throw new WorkspacePathException($"The path '{path}' leads outside the workspace through the symbolic link '{via}'; only files inside the workspace can be used.");
                }

                current = resolved;
            }
            else
            {
                current = next;
            }
        }

        return new WorkspacePath(current, segments.Length == 0 ? "." : string.Join('/', segments));
    }

    /// <summary>The path of <paramref name="fullPath"/> relative to the real root, with '/' separators.</summary>
    public string ToRelative(string fullPath)
    {
        string relative = Path.GetRelativePath(this.RealRoot, fullPath);
        return relative.Replace('\\', '/');
    }

    /// <summary>True when <paramref name="path"/> equals <paramref name="root"/> or lies beneath it (both real paths).</summary>
    public static bool IsInside(string path, string root)
    {
        string trimmedRoot = Path.TrimEndingDirectorySeparator(root);
        string trimmedPath = Path.TrimEndingDirectorySeparator(path);
        return trimmedPath.Equals(trimmedRoot, PathComparison)
            || trimmedPath.StartsWith(trimmedRoot + Path.DirectorySeparatorChar, PathComparison)
            || (trimmedRoot.Length > 0 && trimmedRoot[^1] == Path.DirectorySeparatorChar && trimmedPath.StartsWith(trimmedRoot, PathComparison));
    }

    /// <summary>
    /// Resolves every symbolic link in an absolute path, component by component, handling '..' after each link
    /// is resolved (as the OS does). Components that do not exist are kept as written.
    /// </summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? "/";
        var pending = new List<string>(SplitComponents(full[root.Length..]));
        pending.Reverse();
        string current = root;
        int hops = 0;
        while (pending.Count > 0)
        {
            string component = pending[^1];
            pending.RemoveAt(pending.Count - 1);
            if (component is "" or ".")
            {
                continue;
            }

            if (component == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }

            string next = Path.Join(current, component);
            string? target = LinkTarget(next);
            if (target is null)
            {
                current = next;
                continue;
            }

            if (++hops > MaxLinkHops)
            {
                throw new WorkspacePathException($"The path '{path}' has too many levels of symbolic links.");
            }

            if (Path.IsPathRooted(target))
            {
                string targetRoot = Path.GetPathRoot(target) ?? "/";
                current = targetRoot;
                target = target[targetRoot.Length..];
            }

            string[] parts = SplitComponents(target);
            for (int i = parts.Length - 1; i >= 0; i--)
            {
                pending.Add(parts[i]);
            }
        }

        return current;
    }

    /// <summary>
    /// Checks a relative path without touching the file system and returns its segments (no '.', no empty ones).
    /// Throws <see cref="WorkspacePathException"/> for '..' segments, absolute paths, '~/', drive letters, UNC
    /// paths, NUL characters and paths longer than <see cref="MaxPathLength"/>.
    /// </summary>
    public static string[] SplitRelative(string? path) => Split(path);

    private static string[] Split(string? path)
    {
        path ??= string.Empty;
        if (path.Length > MaxPathLength)
        {
            throw new WorkspacePathException($"The path is {path.Length} characters long; the limit is {MaxPathLength}.");
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw new WorkspacePathException("The path contains a NUL character; use a plain relative path such as 'notes/todo.md'.");
        }

        string normalised = path.Replace('\\', '/');
        if (normalised.Length >= 2 && char.IsAsciiLetter(normalised[0]) && normalised[1] == ':')
        {
            throw new WorkspacePathException($"The path '{path}' names a drive; use a path relative to the workspace root, such as 'notes/todo.md'.");
        }

        if (normalised.StartsWith('/') || normalised == "~" || normalised.StartsWith("~/", StringComparison.Ordinal) || Path.IsPathRooted(path))
        {
            throw new WorkspacePathException($"The path '{path}' is absolute; use a path relative to the workspace root, such as 'notes/todo.md'.");
        }

        string[] segments = normalised.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".").ToArray();
        if (segments.Any(s => s == ".."))
        {
            throw new WorkspacePathException($"The path '{path}' leaves the workspace: '..' is not allowed; use a path relative to the workspace root.");
        }

        return segments;
    }

    private static string[] SplitComponents(string path) =>
        path.Split(new[] { '/', Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar }, StringSplitOptions.RemoveEmptyEntries);

    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
