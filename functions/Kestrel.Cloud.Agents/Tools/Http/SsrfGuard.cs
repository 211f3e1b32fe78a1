using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kestrel.Cloud.Agents.Tools.Http;

/// <summary>The SSRF guard's verdict on one URL.</summary>
/// <param name="IsAllowed">True when the URL may be fetched.</param>
/// <param name="Address">The vetted address to connect to (only when allowed).</param>
/// <param name="Reason">Why it was refused (only when refused), a sentence for the model and the log.</param>
public sealed record SsrfCheckResult(bool IsAllowed, IPAddress? Address, string? Reason)
{
    internal static SsrfCheckResult Allow(IPAddress address) => new(true, address, null);

    internal static SsrfCheckResult Refuse(string reason) => new(false, null, reason);
}

/// <summary>
/// Decides whether a URL may be fetched for a model, and which address to connect to. Only http and https; no
/// user info; names such as <c>localhost</c> and metadata host names are refused outright; numeric host spellings
/// are decoded (<see cref="NumericHost"/>); names are resolved with <see cref="IHostResolver"/> and refused when
/// any address is blocked (<see cref="BlockedAddresses"/>). The caller connects to <see cref="SsrfCheckResult.Address"/>
/// itself, so a second DNS answer (rebinding) cannot change the target. Allowlisted hosts skip the address check
/// except for cloud metadata endpoints.
/// </summary>
public sealed class SsrfGuard
{
    private static readonly string[] BlockedNames =
    {
        "localhost", "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
    };

    private static readonly string[] BlockedSuffixes = { ".localhost", ".metadata.google.internal" };

    private readonly IHostResolver resolver;
    private readonly (string Host, int? Port)[] allowed;

    /// <summary>Creates the guard.</summary>
    public SsrfGuard(IEnumerable<string>? allowedHosts = null, IHostResolver? resolver = null)
    {
        this.resolver = resolver ?? DnsHostResolver.Instance;
        var list = new List<(string, int?)>();
        foreach (string entry in allowedHosts ?? Array.Empty<string>())
        {
            if (!TryParseAllowedHost(entry, out string? host, out int? port))
            {
                throw new ArgumentException($"The allowed host '{entry}' is not valid: write a host name or IP address, optionally with ':port'.", nameof(allowedHosts));
            }

            list.Add((host, port));
        }

        this.allowed = list.ToArray();
    }

    /// <summary>Checks <paramref name="uri"/>; resolves its host when it is a name.</summary>
    public async Task<SsrfCheckResult> CheckAsync(Uri uri, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return SsrfCheckResult.Refuse($"only http and https URLs can be fetched (found {(uri.IsAbsoluteUri ? uri.Scheme : "a relative URL")}).");
        }

        if (uri.UserInfo.Length > 0)
        {
            return SsrfCheckResult.Refuse("URLs with a user name or password (user@host) are not fetched.");
        }

        string host = NormaliseHost(uri);
        if (host.Length == 0)
        {
            return SsrfCheckResult.Refuse("the URL has no host.");
        }

        bool isAllowlisted = this.allowed.Any(a => a.Host == host && (a.Port is null || a.Port == uri.Port));

        IPAddress[] addresses;
        bool isNamed = false;
        if (IPAddress.TryParse(host, out IPAddress? literal) && (literal.AddressFamily == AddressFamily.InterNetworkV6 || uri.HostNameType == UriHostNameType.IPv4))
        {
            addresses = new[] { literal };
        }
        else
        {
            switch (NumericHost.Parse(host, out IPAddress? numeric))
            {
                case NumericHost.Kind.IPv4:
                    addresses = new[] { numeric! };
                    break;
                case NumericHost.Kind.Invalid:
                    return SsrfCheckResult.Refuse($"the host '{host}' looks like a numeric address but is not a valid one.");
                default:
                    if (!isAllowlisted && (BlockedNames.Contains(host, StringComparer.Ordinal) || BlockedSuffixes.Any(s => host.EndsWith(s, StringComparison.Ordinal))))
                    {
                        return SsrfCheckResult.Refuse($"the host '{host}' is a local or cloud metadata name.");
                    }

                    isNamed = true;
                    try
                    {
                        addresses = await this.resolver.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
                    }
                    catch (SocketException ex)
                    {
                        return SsrfCheckResult.Refuse($"the host '{host}' could not be resolved ({ex.SocketErrorCode}).");
                    }

                    if (addresses.Length == 0)
                    {
                        return SsrfCheckResult.Refuse($"the host '{host}' has no addresses.");
                    }

                    break;
            }
        }

        bool isLiteral = addresses.Length == 1 && !isNamed;
        foreach (IPAddress address in addresses)
        {
            string subject = isLiteral ? $"{host} is" : $"'{host}' resolves to {address},";
            if (BlockedAddresses.IsCloudMetadata(address))
            {
                return SsrfCheckResult.Refuse($"{subject} {BlockedAddresses.GetBlockReason(address)}; it is never fetched, even for allowed hosts.");
            }

            if (!isAllowlisted && BlockedAddresses.GetBlockReason(address) is { } reason)
            {
                return SsrfCheckResult.Refuse($"{subject} {reason}; only public internet addresses can be fetched (an administrator can allow specific hosts with AllowedHosts).");
            }
        }

        return SsrfCheckResult.Allow(addresses[0]);
    }

    /// <summary>Parses an allowlist entry: <c>host</c>, <c>host:port</c>, <c>[v6]</c> or <c>[v6]:port</c>.</summary>
    public static bool TryParseAllowedHost(string? entry, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? host, out int? port)
    {
        host = null;
        port = null;
        if (string.IsNullOrWhiteSpace(entry))
        {
            return false;
        }

        if (!Uri.TryCreate("http://" + entry.Trim() + "/", UriKind.Absolute, out Uri? uri) || uri.AbsolutePath != "/" || uri.UserInfo.Length > 0)
        {
            return false;
        }

        host = NormaliseHost(uri);
        string trimmed = entry.Trim();
        bool hasPort = trimmed.StartsWith('[') ? trimmed.Contains("]:", StringComparison.Ordinal) : trimmed.Contains(':', StringComparison.Ordinal);
        port = hasPort ? uri.Port : null;
        return host.Length > 0;
    }

    private static string NormaliseHost(Uri uri)
    {
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.IdnHost;
        host = host.ToLowerInvariant();
        return host.EndsWith('.') ? host.TrimEnd('.') : host;
    }
}
