using System.Text;

namespace Kestrel.Cloud.Agents;

/// <summary>Writes files so readers see the old or the new content, never a partial file: a temp file in the same folder, flushed, then renamed over the target.</summary>
internal static class AtomicFile
{
    private const int EEXIST = 17;

    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Writes <paramref name="content"/> as UTF-8 (no BOM). With <paramref name="overwrite"/> false, fails with <see cref="IOException"/> when the target exists.</summary>
    public static async Task WriteAllTextAsync(string path, string content, bool overwrite = true, CancellationToken cancellationToken = default)
    {
        string directory = Path.GetDirectoryName(path) ?? throw new ArgumentException($"The path '{path}' has no folder.", nameof(path));
        string temp = Path.Join(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                byte[] bytes = Utf8NoBom.GetBytes(content);
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            if (overwrite || !TryLinkNoReplace(temp, path))
            {
                File.Move(temp, path, overwrite);
            }
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>
    /// Publishes <paramref name="temp"/> at <paramref name="path"/> only if nothing is there, atomically: on Unix
    /// <c>File.Move(overwrite: false)</c> checks and then renames, so two processes can both "create" the file; a hard
    /// link fails with EEXIST instead. True when linked (the caller deletes the temp file); throws
    /// <see cref="IOException"/> when the target exists; false when links are not available here (Windows, where
    /// the move itself refuses to replace, or a file system without hard links), so the caller falls back to the move.
    /// </summary>
    private static bool TryLinkNoReplace(string temp, string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return false;
        }

        if (Link(temp, path) == 0)
        {
            return true;
        }

        int error = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (error == EEXIST)
        {
            throw new IOException($"The file '{path}' already exists.", EEXIST);
        }

        return false;
    }

    // DllImport rather than LibraryImport: the generated marshalling needs unsafe code, which this project does not allow.
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true, ExactSpelling = true)]
    [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
    private static extern int Link(
        [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string existingPath,
        [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string newPath);
}
