using System.Net;
using System.Net.Sockets;

namespace Kestrel.Cloud.Agents.Tools.Http;

/// <summary>
/// The address ranges <c>http_fetch</c> never connects to (unless a host is allowlisted): everything that is not
/// a public unicast address. IPv4 addresses embedded in IPv6 (IPv4-mapped <c>::ffff:0:0/96</c>,
/// IPv4-compatible <c>::/96</c>, NAT64 <c>64:ff9b::/96</c>, 6to4 <c>2002::/16</c>) are judged by the IPv4 inside.
/// For IPv6, only global unicast (<c>2000::/3</c>) outside the special ranges is allowed.
/// </summary>
public static class BlockedAddresses
{
    private static readonly (IPNetwork Network, string Reason)[] Metadata =
    {
        (IPNetwork.Parse("169.254.169.254/32"), "a cloud metadata endpoint"),
        (IPNetwork.Parse("169.254.170.2/32"), "a cloud metadata endpoint (AWS ECS)"),
        (IPNetwork.Parse("169.254.169.253/32"), "a cloud DNS/metadata endpoint"),
        (IPNetwork.Parse("100.100.100.200/32"), "a cloud metadata endpoint (Alibaba Cloud)"),
        (IPNetwork.Parse("fd00:ec2::254/128"), "a cloud metadata endpoint (AWS IPv6)"),
        (IPNetwork.Parse("fd00:ec2::23/128"), "a cloud metadata endpoint (AWS ECS IPv6)"),
    };

    private static readonly (IPNetwork Network, string Reason)[] IPv4 =
    {
        (IPNetwork.Parse("0.0.0.0/8"), "an unspecified ('this network') address"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private address"),
        (IPNetwork.Parse("100.64.0.0/10"), "a carrier-grade NAT (shared) address"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback address"),
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local address"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private address"),
        (IPNetwork.Parse("192.0.0.0/24"), "a reserved (IETF protocol assignments) address"),
        (IPNetwork.Parse("192.0.2.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("192.88.99.0/24"), "a reserved (6to4 relay) address"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private address"),
        (IPNetwork.Parse("198.18.0.0/15"), "a reserved (benchmarking) address"),
        (IPNetwork.Parse("198.51.100.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("203.0.113.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast address"),
        (IPNetwork.Parse("255.255.255.255/32"), "the broadcast address"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved address"),
    };

    private static readonly (IPNetwork Network, string Reason)[] IPv6 =
    {
        (IPNetwork.Parse("::/128"), "an unspecified address"),
        (IPNetwork.Parse("::1/128"), "a loopback address"),
        (IPNetwork.Parse("100::/64"), "a reserved (discard-only) address"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "a reserved (local-use NAT64) address"),
        (IPNetwork.Parse("2001:db8::/32"), "a reserved (documentation) address"),
        (IPNetwork.Parse("2001::/23"), "a reserved (IETF protocol assignments, incl. Teredo) address"),
        (IPNetwork.Parse("3fff::/20"), "a reserved (documentation) address"),
        (IPNetwork.Parse("5f00::/16"), "a reserved (SRv6) address"),
        (IPNetwork.Parse("fc00::/7"), "a unique-local (private) address"),
        (IPNetwork.Parse("fe80::/10"), "a link-local address"),
        (IPNetwork.Parse("fec0::/10"), "a site-local address"),
        (IPNetwork.Parse("ff00::/8"), "a multicast address"),
    };

    private static readonly IPNetwork GlobalUnicast = IPNetwork.Parse("2000::/3");
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    /// <summary>
    /// Why <paramref name="address"/> must not be fetched, e.g. "a loopback address" or "127.0.0.1 (IPv4-mapped),
    /// a loopback address"; null when it is a public address.
    /// </summary>
    public static string? GetBlockReason(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            address = new IPAddress(address.GetAddressBytes());
        }

        foreach ((IPNetwork network, string reason) in Metadata)
        {
            if (network.Contains(address))
            {
                return reason;
            }
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            foreach ((IPNetwork network, string reason) in IPv4)
            {
                if (network.Contains(address))
                {
                    return reason;
                }
            }

            return null;
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return "not an IP address";
        }

        if (TryGetEmbeddedIPv4(address, out IPAddress? embedded, out string? form))
        {
            string? inner = GetBlockReason(embedded);
            if (inner is not null)
            {
                return $"{embedded} ({form}), {inner}";
            }

            if (form == "IPv4-compatible")
            {
                return $"a deprecated IPv4-compatible address ({embedded})";
            }

            return null;
        }

        foreach ((IPNetwork network, string reason) in IPv6)
        {
            if (network.Contains(address))
            {
                return reason;
            }
        }

        return GlobalUnicast.Contains(address) ? null : "not a global unicast address";
    }

    /// <summary>True for cloud metadata endpoints, in any form; these stay blocked even for allowlisted hosts.</summary>
    public static bool IsCloudMetadata(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && TryGetEmbeddedIPv4(address, out IPAddress? embedded, out _))
        {
            address = embedded;
        }

        return Metadata.Any(m => m.Network.Contains(address));
    }

    /// <summary>The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address.</summary>
    public static bool TryGetEmbeddedIPv4(IPAddress address, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? embedded, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? form)
    {
        embedded = null;
        form = null;
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        byte[] bytes = address.GetAddressBytes();
        if (address.IsIPv4MappedToIPv6)
        {
            embedded = address.MapToIPv4();
            form = "IPv4-mapped";
            return true;
        }

        bool firstTwelveZero = bytes.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0;
        if (firstTwelveZero && !(bytes[12] == 0 && bytes[13] == 0 && bytes[14] == 0 && bytes[15] <= 1))
        {
            embedded = new IPAddress(bytes.AsSpan(12, 4));
            form = "IPv4-compatible";
            return true;
        }

        if (Nat64.Contains(address))
        {
            embedded = new IPAddress(bytes.AsSpan(12, 4));
            form = "NAT64";
            return true;
        }

        if (SixToFour.Contains(address))
        {
            embedded = new IPAddress(bytes.AsSpan(2, 4));
            form = "6to4";
            return true;
        }

        return false;
    }
}
