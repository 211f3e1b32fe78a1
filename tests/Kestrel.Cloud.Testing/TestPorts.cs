using System.Net;
using System.Net.Sockets;

namespace Kestrel.Cloud.Testing;

/// <summary>Free loopback ports for servers started by tests.</summary>
public static class TestPorts
{
    /// <summary>A port that was free on 127.0.0.1 a moment ago.</summary>
    public static int GetFreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
