using System.Text;

namespace Kestrel.Cloud.Agents;

/// <summary>Writes files so readers see the old or the new content, never a partial file: a temp file in the same folder, flushed, then renamed over the target.</summary>
internal static class AtomicFile
{
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

            File.Move(temp, path, overwrite);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }
}
