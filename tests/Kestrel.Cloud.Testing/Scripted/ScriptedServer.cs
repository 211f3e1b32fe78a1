using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Testing.Scripted;

/// <summary>A request as the scripted server received it.</summary>
public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public JsonElement Json => JsonDocument.Parse(this.Body).RootElement;

    public string? Header(string name) => this.Headers.TryGetValue(name, out string? value) ? value : null;
}

/// <summary>One scripted answer: a JSON body, an SSE stream written event by event (optionally left open afterwards), or no answer until the client gives up.</summary>
public sealed record ScriptedResponse(int Status, string? Body = null, IReadOnlyList<string>? SseEvents = null, IReadOnlyDictionary<string, string>? Headers = null, bool Hang = false, bool HangAfterSse = false)
{
    public static ScriptedResponse Json(int status, string body, params (string Name, string Value)[] headers) =>
        new(status, body, Headers: headers.ToDictionary(h => h.Name, h => h.Value));

    public static ScriptedResponse Sse(IReadOnlyList<string> events) => new(200, SseEvents: events);

    public static ScriptedResponse NoAnswer() => new(0, Hang: true);
}

/// <summary>
/// A real HTTP server (Kestrel) on 127.0.0.1 and a free port that answers every request with the next scripted
/// response, in order, and records what it got. With the script used up it answers 500 "script exhausted", so an
/// unexpected extra call fails the test instead of hanging it.
/// </summary>
public sealed class ScriptedServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentQueue<ScriptedResponse> script = new();
    private readonly List<RecordedRequest> requests = new();
    private readonly SemaphoreSlim received = new(0);

    private ScriptedServer(WebApplication app)
    {
        this.app = app;
    }

    /// <summary>http://127.0.0.1:{port}/ (no path).</summary>
    public Uri BaseUri { get; private set; } = null!;

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (this.requests)
            {
                return this.requests.ToList();
            }
        }
    }

    /// <summary>The self-signed certificate of HTTPS servers (see <see cref="StartAsync"/>); clients must trust it explicitly.</summary>
    public X509Certificate2? Certificate { get; private set; }

    /// <summary>Starts the server; with <paramref name="https"/> it serves TLS with a fresh self-signed certificate for 127.0.0.1.</summary>
    public static async Task<ScriptedServer> StartAsync(bool https = false)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        X509Certificate2? certificate = https ? CreateCertificate() : null;

        // Port 0: the operating system picks a free port at bind time, so no other process can take it in between.
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        var server = new ScriptedServer(app) { Certificate = certificate };
        app.Run(server.HandleAsync);
        await app.StartAsync();
        int port = new Uri(app.Urls.Single()).Port;
        server.BaseUri = new Uri($"{(https ? "https" : "http")}://127.0.0.1:{port}/");
        return server;
    }

    /// <summary>An HttpClient that trusts exactly this server's certificate.</summary>
    public HttpClient CreateTrustingHttpClient()
    {
        X509Certificate2 expected = this.Certificate ?? throw new InvalidOperationException("The server does not use HTTPS.");
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.Thumbprint == expected.Thumbprint,
        };
        return new HttpClient(handler);
    }

    public ScriptedServer Enqueue(params ScriptedResponse[] responses)
    {
        foreach (ScriptedResponse response in responses)
        {
            this.script.Enqueue(response);
        }

        return this;
    }

    /// <summary>
    /// Completes once <paramref name="count"/> requests in total have arrived (bounded: fails when no request came
    /// for 10 s, or when <paramref name="timeout"/> is given, once that much time has passed in total).
    /// </summary>
    public async Task WaitForRequestsAsync(int count, TimeSpan? timeout = null)
    {
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            lock (this.requests)
            {
                if (this.requests.Count >= count)
                {
                    return;
                }
            }

            TimeSpan wait = timeout is { } total ? total - elapsed.Elapsed : TimeSpan.FromSeconds(10);
            if (wait <= TimeSpan.Zero || !await this.received.WaitAsync(wait))
            {
                throw new TimeoutException($"The scripted server got {this.Requests.Count} requests, expected {count}.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await this.app.StopAsync(stopTimeout.Token);
        await this.app.DisposeAsync();
        this.received.Dispose();
        this.Certificate?.Dispose();
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        string body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        lock (this.requests)
        {
            this.requests.Add(new RecordedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, headers, body));
        }

        this.received.Release();

        if (!this.script.TryDequeue(out ScriptedResponse? response))
        {
            response = ScriptedResponse.Json(500, """{"error":{"message":"script exhausted","type":"server_error","code":null}}""");
        }

        if (response.Hang)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }

            return;
        }

        context.Response.StatusCode = response.Status;
        foreach ((string name, string value) in response.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        if (response.SseEvents is { } events)
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            foreach (string sseEvent in events)
            {
                await context.Response.WriteAsync(sseEvent, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }

            if (response.HangAfterSse)
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                }
            }

            return;
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(response.Body ?? string.Empty, context.RequestAborted);
    }
}
