using Kestrel.Cloud.Functions.Composition;

namespace Kestrel.Cloud.Functions.Tests.Composition;

public class AgentsApiOptionsTests
{
    [Fact]
    public void Validate_Defaults_Pass()
    {
        Action act = () => new KestrelCloudOptions().Validate();

        act.Should().NotThrow();
    }

    [Fact]
    public void Validate_EveryNewSettingInvalid_ReportsThemAllInOneMessage()
    {
        var options = new KestrelCloudOptions
        {
            PublicBaseUrl = "ftp://agents.example.com",
            Approvals = { SigningKey = "too-short" },
            AgentsApi =
            {
                DefaultMessageWait = TimeSpan.FromMinutes(10),
                MaxMessageWait = TimeSpan.FromMinutes(5),
                EventStreamHeartbeatInterval = TimeSpan.Zero,
                EventStreamPollInterval = TimeSpan.FromHours(1),
            },
        };

        Action act = () => options.Validate();

        act.Should().Throw<InvalidOperationException>()
            .Which.Message.Should().Contain("KestrelCloud:PublicBaseUrl must be an absolute http or https URL")
            .And.Contain("KestrelCloud:Approvals:SigningKey is too short; use at least 32")
            .And.Contain("KestrelCloud:AgentsApi:DefaultMessageWait (00:10:00) must not be longer than MaxMessageWait (00:05:00)")
            .And.Contain("KestrelCloud:AgentsApi:EventStreamHeartbeatInterval must be between 00:00:01 and 00:10:00")
            .And.Contain("KestrelCloud:AgentsApi:EventStreamPollInterval must be between");
    }

    [Theory]
    [InlineData("https://agents.example.com")]
    [InlineData("http://localhost:7071/base/")]
    public void Validate_GoodPublicBaseUrl_Passes(string url)
    {
        Action act = () => new KestrelCloudOptions { PublicBaseUrl = url }.Validate();

        act.Should().NotThrow();
    }

    [Theory]
    [InlineData("agents.example.com")]
    [InlineData("https://agents.example.com/?x=1")]
    public void Validate_BadPublicBaseUrl_Throws(string url)
    {
        Action act = () => new KestrelCloudOptions { PublicBaseUrl = url }.Validate();

        act.Should().Throw<InvalidOperationException>().WithMessage("*KestrelCloud:PublicBaseUrl*");
    }
}
