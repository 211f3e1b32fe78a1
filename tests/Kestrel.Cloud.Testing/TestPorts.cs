using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Kestrel.Cloud.Testing;

/// <summary>
/// Free loopback ports for servers started by tests (and by the child processes they start). A port from
/// <c>bind(0)</c> comes from the operating system's ephemeral range, which every outgoing connection draws from too:
/// between our check and the server's bind, a client connection (to Azurite, to a scripted server) could take it. So
/// the ports handed out here come from below that range (Linux 32768+, Windows and macOS 49152+), chosen at random,
/// never twice in one process, and checked to be bindable at the moment they are handed out.
/// </summary>
public static class TestPorts
{
    /// <summary>The lowest port handed out.</summary>
    public const int RangeStart = 15_000;

    /// <summary>One past the highest port handed out: below every common ephemeral range.</summary>
    public const int RangeEnd = 32_000;

    private static readonly ConcurrentDictionary<int, bool> HandedOut = new();

    /// <summary>A port in [<see cref="RangeStart"/>, <see cref="RangeEnd"/>) that was free on 127.0.0.1 a moment ago and that this process has not handed out before.</summary>
    public static int GetFreeTcpPort()
    {
        for (int attempt = 0; attempt < 1_000; attempt++)
        {
            int port = Random.Shared.Next(RangeStart, RangeEnd);
            if (HandedOut.TryAdd(port, true) && CanBind(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free loopback port in {RangeStart}-{RangeEnd - 1} after 1,000 tries.");
    }

    /// <summary>Whether <paramref name="exception"/> or one of its inner exceptions says the address was already in use.</summary>
    public static bool IsAddressInUse(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }

        return false;
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
