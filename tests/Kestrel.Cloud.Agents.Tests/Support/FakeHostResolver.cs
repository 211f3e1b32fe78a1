using System.Net;
using System.Net.Sockets;
using Kestrel.Cloud.Agents.Tools.Http;

namespace Kestrel.Cloud.Agents.Tests.Support;

/// <summary>Answers host names from a table; unknown names fail like DNS does. Records every lookup.</summary>
internal sealed class FakeHostResolver : IHostResolver
{
    private readonly Dictionary<string, IPAddress[]> table = new(StringComparer.OrdinalIgnoreCase);

    public List<string> Lookups { get; } = new();

    public FakeHostResolver Add(string host, params string[] addresses)
    {
        this.table[host] = addresses.Select(IPAddress.Parse).ToArray();
        return this;
    }

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        lock (this.Lookups)
        {
            this.Lookups.Add(host);
        }

        return this.table.TryGetValue(host, out IPAddress[]? addresses)
            ? Task.FromResult(addresses)
            : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
    }
}
