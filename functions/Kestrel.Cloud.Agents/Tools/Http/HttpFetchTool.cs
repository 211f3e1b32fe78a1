using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Http;

/// <summary>
/// <c>http_fetch</c>: GET or POST a public http(s) URL. Every hop (the first request and each redirect, followed
/// by hand up to <see cref="HttpFetchOptions.MaxRedirects"/>) passes the <see cref="SsrfGuard"/>, and the
/// connection goes to the address the guard vetted (<see cref="SocketsHttpHandler.ConnectCallback"/>), never to a
/// second DNS answer; no proxy is used. The body read is capped at <see cref="HttpFetchOptions.MaxResponseSizeBytes"/>
/// and the whole fetch at <see cref="HttpFetchOptions.Timeout"/>. GET calls are read-only; POST calls are not.
/// </summary>
public sealed class HttpFetchTool : IAgentTool, IDisposable
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "http_fetch";

    private const int MaxHeaders = 20;
    private const int MaxHeaderValueLength = 4096;

    private static readonly HttpRequestOptionsKey<IPAddress> VettedAddressKey = new("Kestrel.Cloud.VettedAddress");

    private static readonly HashSet<string> ForbiddenHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "TE", "Trailer", "Keep-Alive", "Expect",
        "Proxy-Authorization", "Proxy-Connection", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host",
    };

    private static readonly string[] CrossOriginDroppedHeaders = { "Authorization", "Cookie", "Proxy-Authorization" };

    private static readonly JsonElement Schema = ToolSchemas.Parse("""
        {
          "type": "object",
          "properties": {
            "url": { "type": "string", "description": "The http or https URL to fetch." },
            "method": { "type": "string", "enum": ["GET", "POST"], "description": "GET (default) or POST." },
            "body": { "type": "string", "description": "The request body, for POST." },
            "content_type": { "type": "string", "description": "Content-Type of the body. Default 'application/json' when the body looks like JSON, else 'text/plain; charset=utf-8'." },
            "headers": { "type": "object", "additionalProperties": { "type": "string" }, "description": "Extra request headers." }
          },
          "required": ["url"],
          "additionalProperties": false
        }
        """);

    private readonly HttpFetchOptions options;
    private readonly SsrfGuard guard;
    private readonly TimeProvider timeProvider;
    private readonly ILogger logger;
    private readonly HttpClient client;

    /// <summary>Creates the tool; options are validated here.</summary>
    public HttpFetchTool(IOptions<HttpFetchOptions>? options = null, IHostResolver? resolver = null, TimeProvider? timeProvider = null, ILogger<HttpFetchTool>? logger = null)
    {
        this.options = options?.Value ?? new HttpFetchOptions();
        this.options.Validate();
        this.guard = new SsrfGuard(this.options.AllowedHosts, resolver);
        this.timeProvider = timeProvider ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectCallback = ConnectToVettedAddressAsync,
        };
        this.client = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    /// <inheritdoc/>
    public string Name => ToolName;

    /// <inheritdoc/>
    public string Description => "Fetch a web page or call a web API on the public internet (GET or POST). Returns the status, the content type and the body as text (cut to a size limit). Local and private network addresses are refused.";

    /// <inheritdoc/>
    public JsonElement ParametersSchema => Schema;

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <inheritdoc/>
    public bool IsReadOnlyFor(JsonElement arguments)
    {
        try
        {
            return string.Equals(ToolArguments.GetString(arguments, "method") ?? "GET", "GET", StringComparison.OrdinalIgnoreCase);
        }
        catch (ToolException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public async Task<ToolResult> InvokeAsync(JsonElement arguments, ToolInvocationContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        string url = ToolArguments.GetRequiredString(arguments, "url");
        string methodText = (ToolArguments.GetString(arguments, "method") ?? "GET").ToUpperInvariant();
        if (methodText is not ("GET" or "POST"))
        {
            throw new ToolException($"The argument 'method' must be GET or POST (found \"{methodText}\").");
        }

        string? body = ToolArguments.GetString(arguments, "body");
        if (body is not null && methodText == "GET")
        {
            throw new ToolException("A GET request has no body; use method POST to send one.");
        }

        if (body is not null && Encoding.UTF8.GetByteCount(body) > this.options.MaxRequestBodySizeBytes)
        {
            throw new ToolException($"The body is larger than {this.options.MaxRequestBodySizeBytes:N0} bytes, the limit for http_fetch.");
        }

        string? contentType = ToolArguments.GetString(arguments, "content_type");
        List<KeyValuePair<string, string>> headers = ValidateHeaders(ToolArguments.GetStringMap(arguments, "headers"), ref contentType);
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri))
        {
            throw new ToolException($"'{url}' is not an absolute URL; give a full URL such as https://example.com/page.");
        }

        using var timeoutSource = new CancellationTokenSource(this.options.Timeout, this.timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            return await this.FetchAsync(uri, new HttpMethod(methodText), body, contentType, headers, context, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return ToolResult.Error($"The fetch of {uri} did not finish within {Durations.Format(this.options.Timeout)} and was stopped.");
        }
    }

    /// <inheritdoc/>
    public void Dispose() => this.client.Dispose();

    private async Task<ToolResult> FetchAsync(Uri uri, HttpMethod method, string? body, string? contentType, List<KeyValuePair<string, string>> headers, ToolInvocationContext context, CancellationToken cancellationToken)
    {
        Uri current = uri;
        for (int hop = 0; ; hop++)
        {
            SsrfCheckResult check = await this.guard.CheckAsync(current, cancellationToken).ConfigureAwait(false);
            if (!check.IsAllowed)
            {
                Log.FetchRefused(this.logger, current.ToString(), context.AgentName, check.Reason!);
                string where = hop == 0 ? string.Empty : $" (reached by redirect {hop} from {uri})";
                return ToolResult.Error($"Refused to fetch {current}{where}: {check.Reason}");
            }

            using var request = new HttpRequestMessage(method, current)
            {
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            };
            request.Options.Set(VettedAddressKey, check.Address!);
            request.Headers.TryAddWithoutValidation("User-Agent", this.options.UserAgent);
            request.Headers.TryAddWithoutValidation("Accept", "text/html, application/json, text/plain;q=0.9, */*;q=0.8");
            foreach (KeyValuePair<string, string> header in headers)
            {
                request.Headers.Remove(header.Key);
                request.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8);
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType ?? (body.TrimStart().StartsWith('{') || body.TrimStart().StartsWith('[') ? "application/json" : "text/plain; charset=utf-8"));
            }

            HttpResponseMessage response;
            try
            {
                response = await this.client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                return ToolResult.Error($"The fetch of {current} failed: {ex.Message}");
            }

            using (response)
            {
                int status = (int)response.StatusCode;
                if (status is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location)
                {
                    if (hop >= this.options.MaxRedirects)
                    {
                        return ToolResult.Error($"The fetch of {uri} stopped after {this.options.MaxRedirects} redirects (the limit); the last one pointed to {new Uri(current, location)}.");
                    }

                    Uri next = new(current, location);
                    if (status == 303 || (status is 301 or 302 && method == HttpMethod.Post))
                    {
                        method = HttpMethod.Get;
                        body = null;
                    }

                    if (!IsSameOrigin(current, next))
                    {
                        headers.RemoveAll(h => CrossOriginDroppedHeaders.Contains(h.Key, StringComparer.OrdinalIgnoreCase));
                    }

                    current = next;
                    continue;
                }

                Log.FetchCompleted(this.logger, method.Method, current.ToString(), context.AgentName, status, hop);
                return await this.ReadResponseAsync(response, uri, current, hop, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<ToolResult> ReadResponseAsync(HttpResponseMessage response, Uri requested, Uri final, int redirects, CancellationToken cancellationToken)
    {
        int max = this.options.MaxResponseSizeBytes;
        byte[] buffer = new byte[Math.Min(max + 1, 81_920)];
        using var content = new MemoryStream();
        Stream stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            while (content.Length <= max)
            {
                int wanted = (int)Math.Min(buffer.Length, max + 1 - content.Length);
                int read = await stream.ReadAsync(buffer.AsMemory(0, wanted), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                content.Write(buffer, 0, read);
            }
        }

        bool cut = content.Length > max;
        ReadOnlySpan<byte> bytes = content.GetBuffer().AsSpan(0, (int)Math.Min(content.Length, max));

        var text = new StringBuilder();
        text.Append("HTTP ").Append((int)response.StatusCode).Append(' ').Append(response.ReasonPhrase).Append('\n');
        if (redirects > 0)
        {
            text.Append("Final URL: ").Append(final).Append(" (after ").Append(redirects).Append(redirects == 1 ? " redirect" : " redirects").Append(" from ").Append(requested).Append(")\n");
        }

        MediaTypeHeaderValue? type = response.Content.Headers.ContentType;
        text.Append("Content-Type: ").Append(type?.ToString() ?? "(none)").Append("\n\n");
        if (IsText(type?.MediaType) && !bytes.Contains((byte)0))
        {
            text.Append(Decode(bytes, type?.CharSet));
        }
        else
        {
            text.Append("[binary content, ").Append(bytes.Length.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)).Append(" bytes, not shown]");
        }

        if (cut)
        {
            text.Append($"\n\n[response cut at {max:N0} bytes, the http_fetch limit; the rest was not downloaded.]");
        }

        return new ToolResult(text.ToString(), IsError: false, IsTruncated: cut);
    }

    private static string Decode(ReadOnlySpan<byte> bytes, string? charset)
    {
        Encoding encoding = Encoding.UTF8;
        if (!string.IsNullOrEmpty(charset))
        {
            try
            {
                encoding = Encoding.GetEncoding(charset.Trim('"'));
            }
            catch (ArgumentException)
            {
                encoding = Encoding.UTF8;
            }
        }

        return encoding is UTF8Encoding ? ToolOutput.DecodeUtf8Prefix(bytes) : encoding.GetString(bytes);
    }

    private static bool IsText(string? mediaType)
    {
        if (mediaType is null)
        {
            return true;
        }

        string m = mediaType.ToLowerInvariant();
        return m.StartsWith("text/", StringComparison.Ordinal)
            || m.EndsWith("+json", StringComparison.Ordinal)
            || m.EndsWith("+xml", StringComparison.Ordinal)
            || m is "application/json" or "application/xml" or "application/javascript" or "application/x-www-form-urlencoded" or "application/x-ndjson" or "application/yaml";
    }

    private static bool IsSameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    private static List<KeyValuePair<string, string>> ValidateHeaders(IReadOnlyList<KeyValuePair<string, string>> headers, ref string? contentType)
    {
        if (headers.Count > MaxHeaders)
        {
            throw new ToolException($"At most {MaxHeaders} headers can be sent (found {headers.Count}).");
        }

        var result = new List<KeyValuePair<string, string>>();
        foreach (KeyValuePair<string, string> header in headers)
        {
            if (ForbiddenHeaders.Contains(header.Key) || header.Key.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase))
            {
                throw new ToolException($"The header '{header.Key}' cannot be set; http_fetch sets it itself.");
            }

            if (header.Key.Length == 0 || header.Key.Any(c => c <= ' ' || c >= 127 || c == ':') || header.Value.Length > MaxHeaderValueLength || header.Value.Any(c => c is '\r' or '\n' or '\0'))
            {
                throw new ToolException($"The header '{header.Key}' is not valid: names are visible ASCII without ':', values one line of at most {MaxHeaderValueLength} characters.");
            }

            if (string.Equals(header.Key, "Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                contentType ??= header.Value;
                continue;
            }

            result.Add(header);
        }

        if (contentType is not null && !MediaTypeHeaderValue.TryParse(contentType, out _))
        {
            throw new ToolException($"The content type '{contentType}' is not valid; use e.g. 'application/json'.");
        }

        return result;
    }

    private static async ValueTask<Stream> ConnectToVettedAddressAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        // Never resolve again here: connect only to the address the SSRF guard vetted for this request.
        if (!context.InitialRequestMessage.Options.TryGetValue(VettedAddressKey, out IPAddress? address))
        {
            throw new HttpRequestException("Refusing to connect: the request has no address vetted by the SSRF guard.");
        }

        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
