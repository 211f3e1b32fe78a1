using System.Net;
using System.Text.Json;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Configuration;

namespace Kestrel.Cloud.Functions.Tests.Composition;

public class ConfigurationTests
{
    [Fact]
    public void Resolve_NothingSet_ListensOnLoopback5077()
    {
        ListenUrls urls = ListenUrls.Resolve(Config(), new KestrelCloudOptions());

        urls.Should().Be(new ListenUrls("http://127.0.0.1:5077", ListenUrlSource.KestrelCloud));
    }

    [Fact]
    public void Resolve_KestrelCloudUrls_UsesThem()
    {
        var options = new KestrelCloudOptions { Urls = "http://0.0.0.0:8080" };

        ListenUrls.Resolve(Config(), options).Should().Be(new ListenUrls("http://0.0.0.0:8080", ListenUrlSource.KestrelCloud));
    }

    [Fact]
    public void Resolve_AspNetCoreUrls_WinOverKestrelCloudUrls()
    {
        var options = new KestrelCloudOptions { Urls = "http://0.0.0.0:8080" };

        ListenUrls.Resolve(Config(("urls", "http://127.0.0.1:6000")), options)
            .Should().Be(new ListenUrls("http://127.0.0.1:6000", ListenUrlSource.AspNetCore));
    }

    [Fact]
    public void Resolve_CustomHandlerPort_WinsOverEverything()
    {
        IConfiguration config = Config(("urls", "http://127.0.0.1:6000"), ("FUNCTIONS_CUSTOMHANDLER_PORT", "7123"));

        ListenUrls.Resolve(config, new KestrelCloudOptions())
            .Should().Be(new ListenUrls("http://127.0.0.1:7123", ListenUrlSource.FunctionsCustomHandler));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("70000")]
    [InlineData("http")]
    public void Resolve_BadCustomHandlerPort_ThrowsNamingTheVariable(string port)
    {
        Action act = () => ListenUrls.Resolve(Config(("FUNCTIONS_CUSTOMHANDLER_PORT", port)), new KestrelCloudOptions());

        act.Should().Throw<InvalidOperationException>()
            .WithMessage($"FUNCTIONS_CUSTOMHANDLER_PORT must be a TCP port between 1 and 65535; it is '{port}'.*");
    }

    [Fact]
    public void Build_ShellEnabledUnderTheFunctionsHost_RefusesToStart()
    {
        using var data = new TempDirectory();
        string[] args =
        {
            "--FUNCTIONS_CUSTOMHANDLER_PORT=7123",
            "--KestrelCloud:Tools:Shell:Enabled=true",
            "--KestrelCloud:Durable:Store=memory",
            $"--KestrelCloud:DataPath={data.Path}",
        };

        Action act = () => KestrelCloudApp.Build(args);

        act.Should().Throw<InvalidOperationException>().WithMessage("*KestrelCloud:Tools:Shell:Enabled*standalone servers only*Azure Functions host*");
    }

    [Fact]
    public async Task Build_ShellEnabledStandalone_Builds()
    {
        using var data = new TempDirectory();
        string[] args = { "--KestrelCloud:Tools:Shell:Enabled=true", "--KestrelCloud:Durable:Store=memory", $"--KestrelCloud:DataPath={data.Path}" };

        await using Microsoft.AspNetCore.Builder.WebApplication app = KestrelCloudApp.Build(args);

        app.Services.GetService(typeof(Kestrel.Cloud.Agents.Tools.ToolRegistry)).Should().NotBeNull();
    }

    [Fact]
    public void Build_SeveralInvalidSettings_ThrowsListingThemAll()
    {
        using var data = new TempDirectory();
        string[] args =
        {
            "--KestrelCloud:Durable:Store=postgres",
            "--KestrelCloud:Http:MaxRequestBodySizeBytes=10",
            "--KestrelCloud:ApiKeys:0=short",
            $"--KestrelCloud:DataPath={data.Path}",
        };

        Action act = () => KestrelCloudApp.Build(args);

        act.Should().Throw<InvalidOperationException>().Which.Message.Should().Be(
            "Invalid KestrelCloud configuration: " +
            "KestrelCloud:ApiKeys:0 is 5 characters; use at least 16 random characters (for example the output of 'openssl rand -base64 32'). " +
            "KestrelCloud:Http:MaxRequestBodySizeBytes must be at least 1024; it is 10. " +
            "KestrelCloud:Durable:Store must be one of 'sqlite', 'memory', 'azure-storage'; it is 'postgres'.");
    }

    [Fact]
    public async Task Start_CustomHandlerPortSet_ListensOnLoopbackAtThatPort()
    {
        int port = 0;
        await using ServerHost host = await ServerHost.StartAsync(o => port = o.UnderFunctionsHost());

        using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        JsonElement root = await (await probe.GetAsync("/")).ShouldBeJsonAsync(HttpStatusCode.OK);

        root.GetProperty("name").GetString().Should().Be("Kestrel.Cloud");
        host.Logs.WithEventId(2000).Should().ContainSingle().Which.Message.Should().Contain($"127.0.0.1:{port}").And.Contain("FunctionsCustomHandler");
    }

    [Fact]
    public async Task Start_SamplesDisabled_RegistersOnlyTheAgentTurn()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.Args.Add("--KestrelCloud:Samples:Enabled=false"));

        JsonElement body = await (await host.Client.GetAsync("/api/orchestrators")).ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("orchestrators").EnumerateArray().Select(e => e.GetString()).Should().Equal("AgentTurn");
    }

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
