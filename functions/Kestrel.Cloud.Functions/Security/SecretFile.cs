using System.Text;

namespace Kestrel.Cloud.Functions.Security;

/// <summary>
/// Files that hold a generated secret (the API key, the approval signing key): created owner-only (0600 on Unix), never
/// overwritten once written, readable by the owner alone.
/// </summary>
internal static class SecretFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The file's trimmed text, or null when it is missing or empty. Tightens its permissions to owner-only first.</summary>
    public static string? TryRead(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        RestrictToOwner(path);
        string text = File.ReadAllText(path).Trim();
        return text.Length == 0 ? null : text;
    }

    /// <summary>
    /// Writes <paramref name="secret"/> and a newline to a new owner-only file (an empty or damaged file left behind is
    /// replaced). False when another process created the file first: read theirs.
    /// </summary>
    public static bool TryWriteNew(string path, string secret)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (File.Exists(path))
        {
            RestrictToOwner(path);
            options.Mode = FileMode.Create;
        }
        else if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        try
        {
            using var stream = new FileStream(path, options);
            using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            writer.Write(secret);
            writer.Write('\n');
            return true;
        }
        catch (IOException) when (options.Mode == FileMode.CreateNew && File.Exists(path))
        {
            return false;
        }
    }

    private static void RestrictToOwner(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if ((File.GetUnixFileMode(path) & ~OwnerOnly) != 0)
        {
            File.SetUnixFileMode(path, OwnerOnly);
        }
    }
}
