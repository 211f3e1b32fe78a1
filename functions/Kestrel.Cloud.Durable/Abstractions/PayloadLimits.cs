using System.Text;

namespace Kestrel.Cloud.Durable;

/// <summary>Checks serialized payloads against their size limits.</summary>
public static class PayloadLimits
{
    /// <summary>Throws <see cref="PayloadTooLargeException"/> when <paramref name="serialized"/> is over <paramref name="maxSizeBytes"/> (UTF-8 bytes).</summary>
    public static void Check(string what, string? serialized, int maxSizeBytes)
    {
        if (serialized is null)
        {
            return;
        }

        // Cheap upper bound first: UTF-8 is at most 3 bytes per UTF-16 char.
        if (serialized.Length * 3L <= maxSizeBytes)
        {
            return;
        }

        int size = Encoding.UTF8.GetByteCount(serialized);
        if (size > maxSizeBytes)
        {
            throw new PayloadTooLargeException(what, size, maxSizeBytes);
        }
    }
}
