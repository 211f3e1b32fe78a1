using System.Net;

namespace Kestrel.Cloud.Agents.Tools.Http;

/// <summary>Resolves host names to addresses for the SSRF guard (a seam so tests can answer for any name).</summary>
public interface IHostResolver
{
    /// <summary>Every address of <paramref name="host"/>; empty when it has none.</summary>
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>Resolves with the operating system's resolver (<see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>).</summary>
public sealed class DnsHostResolver : IHostResolver
{
    /// <summary>The shared instance.</summary>
    public static DnsHostResolver Instance { get; } = new();

    /// <inheritdoc/>
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}
