namespace Kestrel.Cloud.Agents.Tools.Files;

/// <summary>A path vetted by <see cref="WorkspacePathGuard"/>.</summary>
/// <param name="FullPath">The real path on disk (every symbolic link resolved), inside the workspace.</param>
/// <param name="RelativePath">The path as the workspace sees it, with '/' separators ("." for the root).</param>
public sealed record WorkspacePath(string FullPath, string RelativePath);
