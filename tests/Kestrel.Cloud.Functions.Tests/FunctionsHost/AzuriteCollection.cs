using Kestrel.Cloud.Testing.Azurite;

namespace Kestrel.Cloud.Functions.Tests.FunctionsHost;

/// <summary>One Azurite process for the tests of this assembly that need it; each test uses its own task hub.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
