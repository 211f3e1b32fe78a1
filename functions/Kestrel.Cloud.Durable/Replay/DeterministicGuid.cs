using System.Security.Cryptography;
using System.Text;

namespace Kestrel.Cloud.Durable.Replay;

/// <summary>Name-based (version 5, SHA-1) GUIDs: the same name always gives the same GUID.</summary>
internal static class DeterministicGuid
{
    // A fixed namespace for Kestrel.Cloud orchestration GUIDs.
    private static readonly byte[] NamespaceBytes = new Guid("9e952958-5e33-4daf-827f-2fa12937b875").ToByteArray(bigEndian: true);

    public static Guid Create(string name)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        byte[] data = new byte[NamespaceBytes.Length + nameBytes.Length];
        NamespaceBytes.CopyTo(data, 0);
        nameBytes.CopyTo(data, NamespaceBytes.Length);
#pragma warning disable CA5350 // SHA-1 is what RFC 4122 version 5 specifies; this is not a security use.
        byte[] hash = SHA1.HashData(data);
#pragma warning restore CA5350
        byte[] bytes = hash.AsSpan(0, 16).ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
