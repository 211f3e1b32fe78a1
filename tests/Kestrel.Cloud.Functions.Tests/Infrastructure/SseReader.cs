using System.Text;

namespace Kestrel.Cloud.Functions.Tests.Infrastructure;

/// <summary>One server-sent event, or a comment (then only <see cref="Comment"/> is set).</summary>
public sealed record SseFrame(string? Id, string? Event, string? Data, string? Comment);

/// <summary>Reads a <c>text/event-stream</c> response frame by frame, as the SSE spec parses it.</summary>
public sealed class SseReader : IDisposable
{
    private readonly HttpResponseMessage response;
    private readonly StreamReader reader;

    private SseReader(HttpResponseMessage response, Stream stream)
    {
        this.response = response;
        this.reader = new StreamReader(stream, Encoding.UTF8);
    }

    /// <summary>The response (headers are available at once).</summary>
    public HttpResponseMessage Response => this.response;

    /// <summary>Sends the request and returns as soon as the headers arrived.</summary>
    public static async Task<SseReader> OpenAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        return new SseReader(response, await response.Content.ReadAsStreamAsync(cancellationToken));
    }

    /// <summary>The next frame; null at the end of the stream.</summary>
    public async Task<SseFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        string? id = null, type = null, comment = null;
        StringBuilder? data = null;
        bool any = false;
        while (true)
        {
            string? line = await this.reader.ReadLineAsync(cancellationToken);
            if (line is null)
            {
                return any ? new SseFrame(id, type, data?.ToString(), comment) : null;
            }

            if (line.Length == 0)
            {
                if (any)
                {
                    return new SseFrame(id, type, data?.ToString(), comment);
                }

                continue;
            }

            any = true;
            if (line.StartsWith(':'))
            {
                comment = line[1..].Trim();
                continue;
            }

            int colon = line.IndexOf(':');
            string field = colon < 0 ? line : line[..colon];
            string value = colon < 0 ? string.Empty : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": type = value; break;
                case "data": data = data is null ? new StringBuilder(value) : data.Append('\n').Append(value); break;
            }
        }
    }

    /// <summary>The next frame that is an event (comments skipped); null at the end.</summary>
    public async Task<SseFrame?> ReadEventAsync(CancellationToken cancellationToken)
    {
        while (await this.ReadFrameAsync(cancellationToken) is { } frame)
        {
            if (frame.Comment is null || frame.Event is not null || frame.Data is not null)
            {
                return frame;
            }
        }

        return null;
    }

    /// <summary>Every remaining event frame until the server ends the response.</summary>
    public async Task<List<SseFrame>> ReadAllEventsAsync(CancellationToken cancellationToken)
    {
        var frames = new List<SseFrame>();
        while (await this.ReadEventAsync(cancellationToken) is { } frame)
        {
            frames.Add(frame);
        }

        return frames;
    }

    public void Dispose()
    {
        this.reader.Dispose();
        this.response.Dispose();
    }
}
