using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kestrel.Cloud.Agents.Tests.Support;

/// <summary>A request as the loopback server saw it.</summary>
internal sealed record ReceivedRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>
/// A real HTTP/1.1 server on 127.0.0.1 and a free port, written on raw sockets so tests control every byte
/// (redirects, huge bodies, responses that never come). One request per connection (Connection: close).
/// </summary>
internal sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly TcpListener listener;
    private readonly Func<ReceivedRequest, Stream, CancellationToken, Task> handler;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task acceptLoop;
    private readonly List<ReceivedRequest> requests = new();
    private readonly TaskCompletionSource firstRequest = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LoopbackHttpServer(Func<ReceivedRequest, Stream, CancellationToken, Task> handler)
    {
        this.handler = handler;
        this.listener = new TcpListener(IPAddress.Loopback, 0);
        this.listener.Start();
        this.Port = ((IPEndPoint)this.listener.LocalEndpoint).Port;
        this.acceptLoop = Task.Run(this.AcceptLoopAsync);
    }

    public int Port { get; }

    public string Authority => $"127.0.0.1:{this.Port}";

    public Uri Url(string path = "/") => new($"http://127.0.0.1:{this.Port}{path}");

    /// <summary>Completes when the first request has been read.</summary>
    public Task FirstRequest => this.firstRequest.Task;

    public IReadOnlyList<ReceivedRequest> Requests
    {
        get
        {
            lock (this.requests)
            {
                return this.requests.ToList();
            }
        }
    }

    /// <summary>A handler that answers every request with <paramref name="status"/>, <paramref name="headers"/> and <paramref name="body"/>.</summary>
    public static Func<ReceivedRequest, Stream, CancellationToken, Task> Respond(int status, string body = "", params (string Name, string Value)[] headers) =>
        (_, stream, ct) => WriteResponseAsync(stream, status, body, headers, ct);

    public static async Task WriteResponseAsync(Stream stream, int status, string body, (string Name, string Value)[] headers, CancellationToken ct)
    {
        byte[] bodyBytes = Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder();
        head.Append($"HTTP/1.1 {status} {ReasonPhrase(status)}\r\n");
        if (!headers.Any(h => h.Name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
        {
            head.Append("Content-Type: text/plain; charset=utf-8\r\n");
        }

        foreach ((string name, string value) in headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append($"Content-Length: {bodyBytes.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), ct);
        await stream.WriteAsync(bodyBytes, ct);
        await stream.FlushAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        this.stopping.Cancel();
        this.listener.Stop();
        try
        {
            await this.acceptLoop;
        }
        catch (Exception)
        {
        }

        this.stopping.Dispose();
    }

    private static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        _ => "Status",
    };

    private async Task AcceptLoopAsync()
    {
        while (!this.stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await this.listener.AcceptTcpClientAsync(this.stopping.Token);
            }
            catch (Exception)
            {
                return;
            }

            _ = Task.Run(() => this.ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                ReceivedRequest? request = await ReadRequestAsync(stream, this.stopping.Token);
                if (request is null)
                {
                    return;
                }

                lock (this.requests)
                {
                    this.requests.Add(request);
                }

                this.firstRequest.TrySetResult();
                await this.handler(request, stream, this.stopping.Token);
            }
            catch (Exception)
            {
                // The client went away or the server is stopping.
            }
        }
    }

    private static async Task<ReceivedRequest?> ReadRequestAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new List<byte>();
        byte[] one = new byte[1];
        while (true)
        {
            int read = await stream.ReadAsync(one, ct);
            if (read == 0)
            {
                return null;
            }

            buffer.Add(one[0]);
            int n = buffer.Count;
            if (n >= 4 && buffer[n - 4] == '\r' && buffer[n - 3] == '\n' && buffer[n - 2] == '\r' && buffer[n - 1] == '\n')
            {
                break;
            }
        }

        string[] lines = Encoding.ASCII.GetString(buffer.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        string[] start = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        string body = string.Empty;
        if (headers.TryGetValue("Content-Length", out string? length) && int.Parse(length) > 0)
        {
            byte[] bytes = new byte[int.Parse(length)];
            await stream.ReadExactlyAsync(bytes, ct);
            body = Encoding.UTF8.GetString(bytes);
        }

        return new ReceivedRequest(start[0], start[1], headers, body);
    }
}
