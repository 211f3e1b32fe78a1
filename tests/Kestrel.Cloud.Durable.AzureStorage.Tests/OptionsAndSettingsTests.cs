using Azure.Core;
using Azure.Identity;
using Kestrel.Cloud.Durable.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.AzureStorage.Tests;

/// <summary>Options validation, the Functions-style settings, names and message parsing (no emulator needed).</summary>
public sealed class OptionsAndSettingsTests
{
    [Fact]
    public void Validate_DefaultsWithConnectionString_Passes()
    {
        var options = new AzureStorageStoreOptions { ConnectionString = "UseDevelopmentStorage=true" };

        options.Invoking(o => o.Validate()).Should().NotThrow();
        options.TaskHubName.Should().Be("kestrelcloud");
        options.MaxDequeueCount.Should().Be(5);
    }

    [Fact]
    public void Validate_SeveralInvalidValues_ReportsEveryErrorTogether()
    {
        var options = new AzureStorageStoreOptions
        {
            TaskHubName = "Bad-Hub",
            MaxDequeueCount = 0,
            MaxWakeUpDelay = TimeSpan.FromDays(8),
            MaxInlineMessageSizeBytes = 60_000,
        };

        Action validate = options.Validate;

        validate.Should().Throw<ArgumentException>()
            .Which.Message.Should().Contain("Set ConnectionString")
            .And.Contain("TaskHubName ('Bad-Hub') must be 3 to 45 lowercase letters or digits")
            .And.Contain("MaxDequeueCount must be at least 1")
            .And.Contain("MaxWakeUpDelay must be between zero and 7 days")
            .And.Contain("MaxInlineMessageSizeBytes must be between 1024 and 48000");
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("a234567890123456789012345678901234567890123456")]
    [InlineData("hub_1")]
    [InlineData("HUB")]
    public void Validate_TaskHubNameOutsideTheRules_IsRejected(string hub)
    {
        var options = new AzureStorageStoreOptions { ConnectionString = "UseDevelopmentStorage=true", TaskHubName = hub };

        Action validate = options.Validate;

        validate.Should().Throw<ArgumentException>().WithMessage("*TaskHubName*");
    }

    [Fact]
    public void Validate_ServiceUrisWithoutCredential_NamesTheMissingSetting()
    {
        var options = new AzureStorageStoreOptions { BlobServiceUri = new Uri("https://a.blob.core.windows.net") };

        Action validate = options.Validate;

        validate.Should().Throw<ArgumentException>().Which.Message.Should()
            .Contain("QueueServiceUri must be set").And.Contain("Credential must be set").And.NotContain("BlobServiceUri must be set");
    }

    [Fact]
    public void TryApply_ConnectionString_IsUsedAsIs()
    {
        var options = new AzureStorageStoreOptions();
        var settings = new Dictionary<string, string?> { ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true" };

        bool applied = AzureWebJobsStorageSettings.TryApply(options, settings.GetValueOrDefault);

        applied.Should().BeTrue();
        options.ConnectionString.Should().Be("UseDevelopmentStorage=true");
        AzureWebJobsStorageSettings.IsConfigured(settings.GetValueOrDefault).Should().BeTrue();
    }

    [Fact]
    public void TryApply_IdentityBasedWithManagedIdentity_UsesServiceUrisAndManagedIdentity()
    {
        var options = new AzureStorageStoreOptions();
        var settings = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage__blobServiceUri"] = "https://acct.blob.core.windows.net",
            ["AzureWebJobsStorage__queueServiceUri"] = "https://acct.queue.core.windows.net",
            ["AzureWebJobsStorage__credential"] = "managedidentity",
            ["AzureWebJobsStorage__clientId"] = "00000000-0000-0000-0000-000000000001",
        };

        bool applied = AzureWebJobsStorageSettings.TryApply(options, settings.GetValueOrDefault);

        applied.Should().BeTrue();
        options.ConnectionString.Should().BeNull();
        options.BlobServiceUri.Should().Be(new Uri("https://acct.blob.core.windows.net"));
        options.QueueServiceUri.Should().Be(new Uri("https://acct.queue.core.windows.net"));
        options.Credential.Should().BeOfType<ManagedIdentityCredential>();
        options.Invoking(o => o.Validate()).Should().NotThrow();
    }

    [Fact]
    public void TryApply_ConfigurationKeysWithAccountName_DeriveServiceUrisAndPassClientIdToFactory()
    {
        var options = new AzureStorageStoreOptions();
        var settings = new Dictionary<string, string?> { ["AzureWebJobsStorage:accountName"] = "acct", ["AzureWebJobsStorage:clientId"] = "cid" };
        string? seenClientId = null;

        AzureWebJobsStorageSettings.TryApply(options, settings.GetValueOrDefault, credentialFactory: id =>
        {
            seenClientId = id;
            return new FakeCredential();
        });

        options.BlobServiceUri.Should().Be(new Uri("https://acct.blob.core.windows.net"));
        options.QueueServiceUri.Should().Be(new Uri("https://acct.queue.core.windows.net"));
        options.Credential.Should().BeOfType<FakeCredential>();
        seenClientId.Should().Be("cid");
    }

    [Fact]
    public void TryApply_BlobUriWithoutQueueUri_ThrowsNamingTheMissingSetting()
    {
        var settings = new Dictionary<string, string?> { ["AzureWebJobsStorage__blobServiceUri"] = "https://acct.blob.core.windows.net" };

        Action apply = () => AzureWebJobsStorageSettings.TryApply(new AzureStorageStoreOptions(), settings.GetValueOrDefault);

        apply.Should().Throw<ArgumentException>().WithMessage("The setting AzureWebJobsStorage__queueServiceUri is missing.*");
    }

    [Fact]
    public void TryApply_NothingSet_ReturnsFalseAndChangesNothing()
    {
        var options = new AzureStorageStoreOptions();

        bool applied = AzureWebJobsStorageSettings.TryApply(options, _ => null);

        applied.Should().BeFalse();
        options.ConnectionString.Should().BeNull();
        AzureWebJobsStorageSettings.IsConfigured(_ => null).Should().BeFalse();
    }

    [Fact]
    public void AddDurableTaskAzureStorageStore_FromSettings_RegistersTheStoreAsTheEngineStore()
    {
        var services = new ServiceCollection();
        var settings = new Dictionary<string, string?> { ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true" };

        services.AddDurableTaskAzureStorageStore(settings.GetValueOrDefault, o => o.TaskHubName = "myhub");
        using ServiceProvider provider = services.BuildServiceProvider();

        var store = provider.GetRequiredService<IOrchestrationStore>().Should().BeOfType<AzureStorageOrchestrationStore>().Subject;
        store.Options.TaskHubName.Should().Be("myhub");
        store.ControlQueueName.Should().Be("myhub-control");
        store.ActivityQueueName.Should().Be("myhub-activities");
        store.PoisonQueueName.Should().Be("myhub-poison");
    }

    [Fact]
    public void AddDurableTaskAzureStorageStore_InvalidOptions_FailsWhenResolved()
    {
        var services = new ServiceCollection();
        services.AddDurableTaskAzureStorageStore(o => o.TaskHubName = "x");
        using ServiceProvider provider = services.BuildServiceProvider();

        Action resolve = () => provider.GetRequiredService<IOptions<AzureStorageStoreOptions>>().Value.ToString();

        resolve.Should().Throw<ArgumentException>().WithMessage("*TaskHubName*");
    }

    [Fact]
    public void InstanceBlob_EscapesCharacterByCharacter_SoPrefixesStayPrefixes()
    {
        StorageNames.InstanceBlob("job-1_a").Should().Be("job-1_a");
        StorageNames.InstanceBlob("a.b c").Should().Be("a~2Eb~20c");
        StorageNames.InstanceBlob("é").Should().Be("~C3~A9");
        StorageNames.InstanceBlob("ab~cd").Should().StartWith(StorageNames.Escape("ab~"));
        string longId = new('é', 256);
        StorageNames.InstanceBlob(longId).Should().StartWith(StorageNames.HashedPrefix).And.HaveLength(2 + 32);
    }

    [Theory]
    [InlineData("{\"k\":\"wake\",\"id\":\"1\",\"i\":\"inst\"}")]
    [InlineData("\"{\\\"k\\\":\\\"wake\\\",\\\"id\\\":\\\"1\\\",\\\"i\\\":\\\"inst\\\"}\"")]
    [InlineData("eyJrIjoid2FrZSIsImlkIjoiMSIsImkiOiJpbnN0In0=")]
    public void TryParse_JsonOrEncodedAgainOrBase64_ReadsTheEnvelope(string text)
    {
        QueueEnvelope? envelope = QueueEnvelope.TryParse(text);

        envelope.Should().NotBeNull();
        envelope!.Kind.Should().Be("wake");
        envelope.InstanceId.Should().Be("inst");
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("{\"id\":\"no kind\"}")]
    public void TryParse_NotAnEnvelope_ReturnsNull(string text) => QueueEnvelope.TryParse(text).Should().BeNull();

    private sealed class FakeCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => new("t", DateTimeOffset.MaxValue);

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => new(this.GetToken(requestContext, cancellationToken));
    }
}
