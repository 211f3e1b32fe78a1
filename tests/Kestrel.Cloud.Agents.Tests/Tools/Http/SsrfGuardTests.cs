using System.Net;
using Kestrel.Cloud.Agents.Tests.Support;
using Kestrel.Cloud.Agents.Tools.Http;

namespace Kestrel.Cloud.Agents.Tests.Tools.Http;

public class SsrfGuardTests
{
    private readonly FakeHostResolver resolver = new FakeHostResolver()
        .Add("example.com", "93.184.216.34")
        .Add("v6.example.com", "2606:4700:4700::1111")
        .Add("internal.example.com", "10.0.0.5")
        .Add("mixed.example.com", "93.184.216.34", "127.0.0.1")
        .Add("mapped.example.com", "::ffff:127.0.0.1")
        .Add("metadata-alias.example.com", "169.254.169.254")
        .Add("localhost", "127.0.0.1");

    private Task<SsrfCheckResult> Check(string url, params string[] allowed) =>
        new SsrfGuard(allowed, this.resolver).CheckAsync(new Uri(url), CancellationToken.None);

    [Theory]
    // IPv4 ranges
    [InlineData("http://127.0.0.1/", "a loopback address")]
    [InlineData("http://127.255.255.254/", "a loopback address")]
    [InlineData("http://10.0.0.1/", "a private address")]
    [InlineData("http://10.255.255.255/", "a private address")]
    [InlineData("http://172.16.0.1/", "a private address")]
    [InlineData("http://172.31.255.255/", "a private address")]
    [InlineData("http://192.168.1.1/", "a private address")]
    [InlineData("http://169.254.1.1/", "a link-local address")]
    [InlineData("http://100.64.0.1/", "a carrier-grade NAT (shared) address")]
    [InlineData("http://100.127.255.254/", "a carrier-grade NAT (shared) address")]
    [InlineData("http://0.0.0.0/", "an unspecified ('this network') address")]
    [InlineData("http://0.1.2.3/", "an unspecified ('this network') address")]
    [InlineData("http://224.0.0.1/", "a multicast address")]
    [InlineData("http://239.255.255.250/", "a multicast address")]
    [InlineData("http://255.255.255.255/", "the broadcast address")]
    [InlineData("http://240.0.0.1/", "a reserved address")]
    [InlineData("http://192.0.0.8/", "a reserved (IETF protocol assignments) address")]
    [InlineData("http://192.0.2.1/", "a reserved (documentation) address")]
    [InlineData("http://198.18.0.1/", "a reserved (benchmarking) address")]
    [InlineData("http://203.0.113.7/", "a reserved (documentation) address")]
    // cloud metadata
    [InlineData("http://169.254.169.254/latest/meta-data/", "a cloud metadata endpoint")]
    [InlineData("http://169.254.170.2/v2/credentials", "a cloud metadata endpoint (AWS ECS)")]
    [InlineData("http://100.100.100.200/latest/meta-data/", "a cloud metadata endpoint (Alibaba Cloud)")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data/", "a cloud metadata endpoint (AWS IPv6)")]
    // numeric spellings of IPv4
    [InlineData("http://2130706433/", "a loopback address")]
    [InlineData("http://0x7f.0.0.1/", "a loopback address")]
    [InlineData("http://0177.0.0.1/", "a loopback address")]
    [InlineData("http://127.1/", "a loopback address")]
    [InlineData("http://0x7f.1/", "a loopback address")]
    [InlineData("http://0x7f000001/", "a loopback address")]
    [InlineData("http://017700000001/", "a loopback address")]
    [InlineData("http://0/", "an unspecified ('this network') address")]
    [InlineData("http://10.1/", "a private address")]
    [InlineData("http://0251.0376.0251.0376/", "a cloud metadata endpoint")]
    [InlineData("http://0xa9fea9fe/", "a cloud metadata endpoint")]
    [InlineData("http://2852039166/", "a cloud metadata endpoint")]
    [InlineData("http://0xA9.0xFE.0xA9.0xFE/", "a cloud metadata endpoint")]
    // IPv6
    [InlineData("http://[::1]/", "a loopback address")]
    [InlineData("http://[::]/", "an unspecified address")]
    [InlineData("http://[fc00::1]/", "a unique-local (private) address")]
    [InlineData("http://[fd12:3456::1]/", "a unique-local (private) address")]
    [InlineData("http://[fe80::1]/", "a link-local address")]
    [InlineData("http://[fe80::1%25eth0]/", "a link-local address")]
    [InlineData("http://[fec0::1]/", "a site-local address")]
    [InlineData("http://[ff02::1]/", "a multicast address")]
    [InlineData("http://[2001:db8::1]/", "a reserved (documentation) address")]
    [InlineData("http://[2001::1]/", "a reserved (IETF protocol assignments, incl. Teredo) address")]
    [InlineData("http://[100::1]/", "a reserved (discard-only) address")]
    [InlineData("http://[64:ff9b:1::1]/", "a reserved (local-use NAT64) address")]
    [InlineData("http://[4000::1]/", "not a global unicast address")]
    // IPv4 inside IPv6: mapped, compatible, NAT64, 6to4
    [InlineData("http://[::ffff:127.0.0.1]/", "127.0.0.1 (IPv4-mapped), a loopback address")]
    [InlineData("http://[::ffff:7f00:1]/", "127.0.0.1 (IPv4-mapped), a loopback address")]
    [InlineData("http://[0:0:0:0:0:ffff:7f00:0001]/", "127.0.0.1 (IPv4-mapped), a loopback address")]
    [InlineData("http://[::ffff:10.0.0.1]/", "10.0.0.1 (IPv4-mapped), a private address")]
    [InlineData("http://[::ffff:169.254.169.254]/", "a cloud metadata endpoint")]
    [InlineData("http://[::ffff:a9fe:a9fe]/", "a cloud metadata endpoint")]
    [InlineData("http://[::127.0.0.1]/", "127.0.0.1 (IPv4-compatible), a loopback address")]
    [InlineData("http://[::8.8.8.8]/", "a deprecated IPv4-compatible address (8.8.8.8)")]
    [InlineData("http://[64:ff9b::127.0.0.1]/", "127.0.0.1 (NAT64), a loopback address")]
    [InlineData("http://[64:ff9b::a9fe:a9fe]/", "a cloud metadata endpoint")]
    [InlineData("http://[2002:7f00:1::1]/", "127.0.0.1 (6to4), a loopback address")]
    [InlineData("http://[2002:c0a8:101::1]/", "192.168.1.1 (6to4), a private address")]
    public async Task CheckAsync_BlockedAddress_RefusedWithReason(string url, string reason)
    {
        SsrfCheckResult result = await this.Check(url);

        result.IsAllowed.Should().BeFalse();
        result.Address.Should().BeNull();
        result.Reason.Should().Contain(reason);
        this.resolver.Lookups.Should().BeEmpty("addresses are never sent to DNS");
    }

    [Fact]
    public async Task CheckAsync_LiteralLoopback_MessageNamesAddressRuleAndFix()
    {
        (await this.Check("http://127.0.0.1:8080/x")).Reason
            .Should().Be("127.0.0.1 is a loopback address; only public internet addresses can be fetched (an administrator can allow specific hosts with AllowedHosts).");
        (await this.Check("http://169.254.169.254/")).Reason
            .Should().Be("169.254.169.254 is a cloud metadata endpoint; it is never fetched, even for allowed hosts.");
    }

    [Theory]
    [InlineData("http://localhost/")]
    [InlineData("http://LOCALHOST./")]
    [InlineData("http://api.localhost/")]
    [InlineData("http://metadata.google.internal/computeMetadata/v1/")]
    [InlineData("http://metadata.google.internal./")]
    [InlineData("http://METADATA.GOOGLE.INTERNAL/")]
    [InlineData("http://metadata/")]
    [InlineData("http://metadata.goog/")]
    [InlineData("http://instance-data/latest/")]
    public async Task CheckAsync_LocalOrMetadataName_RefusedWithoutLookup(string url)
    {
        SsrfCheckResult result = await this.Check(url);

        result.IsAllowed.Should().BeFalse();
        result.Reason.Should().EndWith("is a local or cloud metadata name.");
        this.resolver.Lookups.Should().BeEmpty();
    }

    [Theory]
    [InlineData("http://1.2.3.4.5/")]
    [InlineData("http://256.1.1.1/")]
    [InlineData("http://1.2.3.256/")]
    [InlineData("http://0x7g.0.0.1/")]
    [InlineData("http://08.0.0.1/")]
    [InlineData("http://4294967296/")]
    public async Task CheckAsync_MalformedNumericHost_Refused(string url)
    {
        SsrfCheckResult result = await this.Check(url);

        result.IsAllowed.Should().BeFalse();
        result.Reason.Should().EndWith("looks like a numeric address but is not a valid one.");
        this.resolver.Lookups.Should().BeEmpty();
    }

    [Fact]
    public async Task CheckAsync_NameResolvingToPrivate_Refused()
    {
        (await this.Check("https://internal.example.com/")).Reason
            .Should().Be("'internal.example.com' resolves to 10.0.0.5, a private address; only public internet addresses can be fetched (an administrator can allow specific hosts with AllowedHosts).");
    }

    [Fact]
    public async Task CheckAsync_NameWithAnyBlockedAddress_Refused()
    {
        (await this.Check("https://mixed.example.com/")).Reason.Should().StartWith("'mixed.example.com' resolves to 127.0.0.1, a loopback address");
        (await this.Check("https://mapped.example.com/")).Reason.Should().StartWith("'mapped.example.com' resolves to ::ffff:127.0.0.1, 127.0.0.1 (IPv4-mapped), a loopback address");
        (await this.Check("https://metadata-alias.example.com/")).Reason.Should().Be("'metadata-alias.example.com' resolves to 169.254.169.254, a cloud metadata endpoint; it is never fetched, even for allowed hosts.");
    }

    [Theory]
    [InlineData("https://example.com/page", "93.184.216.34")]
    [InlineData("http://EXAMPLE.com./", "93.184.216.34")]
    [InlineData("https://v6.example.com/", "2606:4700:4700::1111")]
    [InlineData("https://8.8.8.8/", "8.8.8.8")]
    [InlineData("https://[2606:4700:4700::1111]/", "2606:4700:4700::1111")]
    [InlineData("https://[::ffff:8.8.8.8]/", "::ffff:8.8.8.8")]
    [InlineData("https://[64:ff9b::808:808]/", "64:ff9b::808:808")]
    [InlineData("http://100.63.255.255/", "100.63.255.255")]
    [InlineData("http://172.32.0.1/", "172.32.0.1")]
    [InlineData("http://11.0.0.1/", "11.0.0.1")]
    public async Task CheckAsync_PublicAddress_AllowedWithVettedAddress(string url, string address)
    {
        SsrfCheckResult result = await this.Check(url);

        result.Reason.Should().BeNull();
        result.IsAllowed.Should().BeTrue();
        result.Address.Should().Be(IPAddress.Parse(address));
    }

    [Theory]
    [InlineData("ftp://example.com/file", "only http and https URLs can be fetched (found ftp).")]
    [InlineData("file:///etc/passwd", "only http and https URLs can be fetched (found file).")]
    [InlineData("gopher://example.com/", "only http and https URLs can be fetched (found gopher).")]
    [InlineData("http://user:pw@example.com/", "URLs with a user name or password (user@host) are not fetched.")]
    [InlineData("http://example.com@127.0.0.1/", "URLs with a user name or password (user@host) are not fetched.")]
    public async Task CheckAsync_WrongSchemeOrUserInfo_Refused(string url, string reason)
    {
        (await this.Check(url)).Reason.Should().Be(reason);
    }

    [Fact]
    public async Task CheckAsync_UnknownName_RefusedAsUnresolvable()
    {
        (await this.Check("https://no-such-host.example/")).Reason.Should().Be("the host 'no-such-host.example' could not be resolved (HostNotFound).");
    }

    [Fact]
    public async Task CheckAsync_AllowlistedHostAndPort_OpensOnlyThatPort()
    {
        (await this.Check("http://127.0.0.1:8080/", "127.0.0.1:8080")).IsAllowed.Should().BeTrue();
        (await this.Check("http://127.0.0.1:8081/", "127.0.0.1:8080")).IsAllowed.Should().BeFalse();
        (await this.Check("http://127.0.0.1:9999/", "127.0.0.1")).IsAllowed.Should().BeTrue();
        (await this.Check("http://[::1]:8080/", "[::1]:8080")).IsAllowed.Should().BeTrue();
        (await this.Check("http://10.0.0.2/", "127.0.0.1")).IsAllowed.Should().BeFalse();
    }

    [Fact]
    public async Task CheckAsync_AllowlistedName_ResolvedAndAllowed()
    {
        SsrfCheckResult result = await this.Check("http://localhost:3000/", "localhost:3000");

        result.IsAllowed.Should().BeTrue();
        result.Address.Should().Be(IPAddress.Loopback);
    }

    [Fact]
    public async Task CheckAsync_AllowlistedMetadataEndpoint_StillRefused()
    {
        (await this.Check("http://169.254.169.254/", "169.254.169.254")).IsAllowed.Should().BeFalse();
        (await this.Check("http://metadata-alias.example.com/", "metadata-alias.example.com")).IsAllowed.Should().BeFalse();
    }

    [Theory]
    [InlineData("example.com", true)]
    [InlineData("example.com:8443", true)]
    [InlineData("[::1]:8080", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("", false)]
    [InlineData("http://example.com", false)]
    [InlineData("example.com/path", false)]
    [InlineData("user@example.com", false)]
    public void TryParseAllowedHost_Entries(string entry, bool valid)
    {
        SsrfGuard.TryParseAllowedHost(entry, out _, out _).Should().Be(valid);
    }

    [Fact]
    public void Options_InvalidValues_AllReportedTogether()
    {
        var options = new HttpFetchOptions { MaxRedirects = 50, Timeout = TimeSpan.Zero, AllowedHosts = { "http://x" } };

        Action act = options.Validate;

        act.Should().Throw<ArgumentException>().Which.Message.Should().Be(
            "HttpFetchOptions is not valid:\n- The value for MaxRedirects must be between 0 and 20; it is 50.\n- The value for Timeout must be greater than zero; it is 00:00:00.\n- The AllowedHosts entry 'http://x' is not valid: write a host name or IP address, optionally with ':port' (IPv6 in brackets, e.g. '[::1]:8080').");
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("2130706433", "127.0.0.1")]
    [InlineData("0x7f.0.0.1", "127.0.0.1")]
    [InlineData("0177.0.0.1", "127.0.0.1")]
    [InlineData("127.1", "127.0.0.1")]
    [InlineData("127.0.1", "127.0.0.1")]
    [InlineData("0x7F000001", "127.0.0.1")]
    [InlineData("0x", "0.0.0.0")]
    [InlineData("192.168.0x1.01", "192.168.1.1")]
    [InlineData("1.2.3.4.", "1.2.3.4")]
    public void NumericHost_Parse_DecodesEverySpelling(string host, string expected)
    {
        NumericHost.Parse(host, out IPAddress? address).Should().Be(NumericHost.Kind.IPv4);
        address.Should().Be(IPAddress.Parse(expected));
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("1.2.3.example")]
    [InlineData("0x7f.example")]
    public void NumericHost_Parse_NamesAreNames(string host)
    {
        NumericHost.Parse(host, out _).Should().Be(NumericHost.Kind.Name);
    }
}
