using Kestrel.Cloud.Testing.Azurite;

namespace Kestrel.Cloud.Durable.AzureStorage.Tests;

/// <summary>One Azurite process for every test of this assembly; each test uses its own task hub.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
