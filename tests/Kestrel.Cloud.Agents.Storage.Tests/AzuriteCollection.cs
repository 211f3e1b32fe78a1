using Azure.Storage.Blobs;
using Kestrel.Cloud.Testing.Azurite;

namespace Kestrel.Cloud.Agents.Storage.Tests;

/// <summary>One Azurite process for every Azure test of this assembly; each test uses its own task hub.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";

    /// <summary>A client for the emulator (fails at once, with its output, when it is not running).</summary>
    public static BlobServiceClient Client(AzuriteFixture azurite)
    {
        azurite.ThrowIfExited();
        return new BlobServiceClient(azurite.ConnectionString);
    }

    /// <summary>A task hub name no other test uses.</summary>
    public static string NewTaskHub() => "t" + Guid.NewGuid().ToString("N")[..16];
}
