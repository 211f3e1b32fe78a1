using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Providers.Usage;
using Kestrel.Cloud.Testing.Scripted;
using Microsoft.Extensions.AI;

namespace Kestrel.Cloud.Agents.Tests.Providers;

/// <summary>Configuration from environment variables, validation, and the not-configured messages.</summary>
public sealed class ProvidersOptionsTests
{
    [Fact]
    public void AddEnvironmentProviders_AllVariables_CreatesOpenAIAnthropicAndAzure()
    {
        var options = new ProvidersOptions().AddEnvironmentProviders(Env(
            ("OPENAI_API_KEY", "sk-a, sk-b"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com"),
            ("AZURE_OPENAI_API_KEY", "az-key")));

        options.Providers.Keys.Should().BeEquivalentTo("openai", "anthropic", "azure-openai");
        options.Providers["openai"].Type.Should().Be("openai");
        options.Providers["openai"].ApiKeys.Should().Equal("sk-a", "sk-b");
        options.Providers["openai"].DefaultModel.Should().Be(ProviderOptions.DefaultOpenAIModel);
        options.Providers["anthropic"].ApiKeys.Should().Equal("sk-ant");
        options.Providers["azure-openai"].ApiKeys.Should().Equal("az-key");
        options.Providers["azure-openai"].UseEntraId.Should().BeFalse();
        options.Providers["azure-openai"].ResolveBaseUri().Should().Be(new Uri("https://contoso.openai.azure.com/openai/v1/"));
        options.ResolveDefaultProvider().Should().Be("openai");
        options.Invoking(o => o.Validate()).Should().NotThrow();
    }

    [Fact]
    public void AddEnvironmentProviders_AzureEndpointWithoutKey_UsesEntraId()
    {
        var options = new ProvidersOptions().AddEnvironmentProviders(Env(("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com/openai/v1")));

        options.Providers["azure-openai"].UseEntraId.Should().BeTrue();
        options.Providers["azure-openai"].ResolveBaseUri().Should().Be(new Uri("https://contoso.openai.azure.com/openai/v1/"));
        options.Invoking(o => o.Validate()).Should().NotThrow();
    }

    [Fact]
    public void AddEnvironmentProviders_OpenAIBaseUrlOnly_AddsKeylessCompatibleProvider()
    {
        var options = new ProvidersOptions().AddEnvironmentProviders(Env(("OPENAI_BASE_URL", "http://localhost:11434/v1")));

        ProviderOptions provider = options.Providers["openai"];
        provider.Type.Should().Be("openai-compatible");
        provider.ApiKeys.Should().BeEmpty();
        provider.DefaultModel.Should().BeNull("a local server's models are not OpenAI's");
        options.Invoking(o => o.Validate()).Should().NotThrow();
    }

    [Fact]
    public void AddEnvironmentProviders_ConfiguredProvider_KeepsConfigurationAndFillsOnlyMissingKeys()
    {
        var options = new ProvidersOptions
        {
            Providers = { ["openai"] = new ProviderOptions { Type = "openai", DefaultModel = "gpt-configured", FallbackModels = { "gpt-b" } } },
        };

        options.AddEnvironmentProviders(Env(("OPENAI_API_KEY", "sk-env")));

        options.Providers["openai"].DefaultModel.Should().Be("gpt-configured");
        options.Providers["openai"].FallbackModels.Should().Equal("gpt-b");
        options.Providers["openai"].ApiKeys.Should().Equal("sk-env");
    }

    [Fact]
    public void AddEnvironmentProviders_NoVariables_AddsNothing()
    {
        var options = new ProvidersOptions().AddEnvironmentProviders(Env(("OPENAI_API_KEY", "  ")));

        options.Providers.Should().BeEmpty();
        options.ResolveDefaultProvider().Should().BeNull();
    }

    [Fact]
    public void Validate_SeveralProblems_ReportsEveryOneTogether()
    {
        var options = new ProvidersOptions
        {
            DefaultProvider = "missing",
            Providers =
            {
                ["a"] = new ProviderOptions { Type = "gemini" },
                ["b"] = new ProviderOptions { Type = "azure-openai" },
                ["c"] = new ProviderOptions { Type = "anthropic", BaseUrl = "ftp://x", DefaultMaxOutputTokens = 0 },
            },
            Retry = { MaxRetryAttempts = -1 },
        };

        string message = options.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().Which.Message;

        message.Should().StartWith("ProvidersOptions is not valid:");
        message.Should().Contain("Providers:a:Type must be one of openai, azure-openai, anthropic, openai-compatible; it is 'gemini'.");
        message.Should().Contain("Providers:b:BaseUrl is required for azure-openai");
        message.Should().Contain("Providers:b needs ApiKeys or UseEntraId=true for azure-openai (or set AZURE_OPENAI_API_KEY).");
        message.Should().Contain("Providers:c:BaseUrl must be an absolute http or https URL; it is 'ftp://x'.");
        message.Should().Contain("Providers:c:ApiKeys needs at least one key for anthropic (or set ANTHROPIC_API_KEY).");
        message.Should().Contain("Providers:c:DefaultMaxOutputTokens must be between 1 and 1000000; it is 0.");
        message.Should().Contain("DefaultProvider 'missing' is not one of the configured providers (a, b, c).");
        message.Should().Contain("Retry: The value for MaxRetryAttempts must be between 0 and 20; it is -1.");
    }

    [Fact]
    public void CreateChatClient_NoProviderConfigured_MessageNamesTheVariablesToSet()
    {
        using var factory = new ChatClientFactory(new ProvidersOptions().AddEnvironmentProviders(Env()));

        ProviderNotConfiguredException error = factory.Invoking(f => f.CreateChatClient()).Should().Throw<ProviderNotConfiguredException>().Which;

        factory.IsConfigured.Should().BeFalse();
        error.Message.Should().Be(
            "No model provider is configured. Set OPENAI_API_KEY (OpenAI), ANTHROPIC_API_KEY (Anthropic), or AZURE_OPENAI_ENDPOINT and " +
            "AZURE_OPENAI_API_KEY (Azure OpenAI); OPENAI_BASE_URL points at an OpenAI-compatible server. Or configure providers under " +
            "KestrelCloud:Models:Providers (see docs/providers.md).");
        error.EnvironmentVariables.Should().Contain(new[] { "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY" });
    }

    [Fact]
    public void CreateChatClient_NamedProviderMissing_MessageNamesItsVariable()
    {
        using var factory = new ChatClientFactory(new ProvidersOptions().AddEnvironmentProviders(Env(("OPENAI_API_KEY", "sk-a"))));

        ProviderNotConfiguredException error = factory.Invoking(f => f.CreateChatClient("anthropic")).Should().Throw<ProviderNotConfiguredException>().Which;

        error.Message.Should().Be("The model provider 'anthropic' is not configured. Set ANTHROPIC_API_KEY, or configure KestrelCloud:Models:Providers:anthropic (Type, BaseUrl, ApiKeys; see docs/providers.md).");
        error.ProviderName.Should().Be("anthropic");
        error.EnvironmentVariables.Should().Equal("ANTHROPIC_API_KEY");
    }

    [Fact]
    public void CreateChatClient_NoModelAnywhere_MessageSaysWhereToSetOne()
    {
        var options = new ProvidersOptions().AddEnvironmentProviders(Env(("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com"), ("AZURE_OPENAI_API_KEY", "k")));
        using var factory = new ChatClientFactory(options);

        factory.Invoking(f => f.CreateChatClient("azure-openai")).Should().Throw<ProviderNotConfiguredException>()
            .WithMessage("The model provider 'azure-openai' has no default model and none was asked for: name a model in the agent's AGENT.md (model:) or set KestrelCloud:Models:Providers:azure-openai:DefaultModel.");
    }

    [Fact]
    public async Task CreateChatClient_ProviderFromEnvironmentVariables_CallsTheServerWithTheEnvironmentKey()
    {
        await using ScriptedServer server = await ScriptedServer.StartAsync();
        server.Enqueue(OpenAIWire.Text("hello from env"));
        var options = new ProvidersOptions().AddEnvironmentProviders(Env(("OPENAI_API_KEY", "sk-from-env"), ("OPENAI_BASE_URL", new Uri(server.BaseUri, "v1").ToString())));
        using var factory = new ChatClientFactory(options);

        ChatResponse response = await factory.CreateChatClient(modelId: "gpt-x").GetResponseAsync(ProviderTestData.Conversation());

        response.Text.Should().Be("hello from env");
        server.Requests.Single().Header("Authorization").Should().Be("Bearer sk-from-env");
        server.Requests.Single().Path.Should().Be("/v1/chat/completions");
    }

    [Fact]
    public async Task CreateChatClient_ProviderNamedByTypeOnly_FindsTheProviderOfThatType()
    {
        await using ScriptedServer server = await ScriptedServer.StartAsync();
        server.Enqueue(AnthropicWire.Text("claude here"));
        var options = new ProvidersOptions
        {
            Providers = { ["claude"] = new ProviderOptions { Type = "anthropic", BaseUrl = server.BaseUri.ToString(), ApiKeys = { "sk-ant" }, DefaultModel = "claude-test" } },
        };
        using var factory = new ChatClientFactory(options);

        ChatResponse response = await factory.CreateChatClient("anthropic").GetResponseAsync(ProviderTestData.Conversation());

        response.Text.Should().Be("claude here");
    }

    [Fact]
    public void GetPriceTable_ConfiguredPrices_PricesTheProvidersModels()
    {
        var options = new ProvidersOptions
        {
            Providers = { ["openai"] = new ProviderOptions { Type = "openai", ApiKeys = { "k" }, Prices = { ["gpt-4o"] = new ModelPrice { Input = 2.5m, Output = 10m, CachedInput = 1.25m } } } },
        };
        using var factory = new ChatClientFactory(options);

        factory.GetPriceTable("openai").TryGetPrice("gpt-4o-2024-08-06", out ModelPrice price).Should().BeTrue();
        price.Output.Should().Be(10m);
        factory.GetPriceTable("nope").Models.Should().BeEmpty();
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] variables)
    {
        var table = variables.ToDictionary(v => v.Name, v => v.Value);
        return name => table.TryGetValue(name, out string? value) ? value : null;
    }
}
