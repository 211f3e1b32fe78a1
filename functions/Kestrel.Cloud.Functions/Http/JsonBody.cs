using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Cloud.Functions.Http;

/// <summary>The request body limit (<c>KestrelCloud:Http:MaxRequestBodySizeBytes</c>), as enforced by the server.</summary>
/// <param name="MaxBytes">The largest body accepted.</param>
public sealed record HttpBodyLimit(long MaxBytes)
{
    /// <summary>The detail of the 413 problem.</summary>
    public string TooLargeDetail(long? actualBytes = null) =>
        (actualBytes is { } n
            ? $"The request body is {n.ToString(CultureInfo.InvariantCulture)} bytes, over the limit of {this.MaxBytes.ToString(CultureInfo.InvariantCulture)} bytes. "
            : $"The request body is over the limit of {this.MaxBytes.ToString(CultureInfo.InvariantCulture)} bytes. ")
        + "Send a smaller payload (pass a reference such as a blob name instead of the data), or raise KestrelCloud:Http:MaxRequestBodySizeBytes.";
}

/// <summary>Reads an optional JSON request body, with errors that say what is wrong and where.</summary>
public static class JsonBody
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// Reads the whole body and parses it as one JSON value. An empty (or whitespace-only) body gives null. The
    /// Content-Type is not checked, so <c>curl -d</c> works without <c>-H 'Content-Type: application/json'</c>.
    /// Throws <see cref="ApiProblemException"/> with 413 for a body over the limit and 400 for malformed JSON.
    /// </summary>
    public static async Task<JsonElement?> ReadOptionalAsync(HttpRequest request, HttpBodyLimit limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(limit);
        if (request.ContentLength is { } declared && declared > limit.MaxBytes)
        {
            throw new ApiProblemException(StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge, limit.TooLargeDetail(declared));
        }

        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await request.Body.ReadAsync(chunk, cancellationToken);
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                throw new ApiProblemException(StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge, limit.TooLargeDetail());
            }

            if (read == 0)
            {
                break;
            }

            if (buffer.Length + read > limit.MaxBytes)
            {
                throw new ApiProblemException(StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge, limit.TooLargeDetail());
            }

            buffer.Write(chunk, 0, read);
        }

        ReadOnlyMemory<byte> bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (IsBlank(bytes.Span))
        {
            return null;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes, DocumentOptions);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new ApiProblemException(StatusCodes.Status400BadRequest, ProblemCodes.InvalidJson, DescribeJsonError(ex), JsonErrorPosition(ex));
        }
    }

    /// <summary>Parses stored JSON (input, output, custom status) for a response; text that is not JSON is returned as a JSON string.</summary>
    public static JsonElement? ParseStored(string? json)
    {
        if (json is null)
        {
            return null;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(json);
        }
    }

    private static string DescribeJsonError(JsonException ex)
    {
        string line = ((ex.LineNumber ?? 0) + 1).ToString(CultureInfo.InvariantCulture);
        string position = ((ex.BytePositionInLine ?? 0) + 1).ToString(CultureInfo.InvariantCulture);
        return $"The request body is not valid JSON: {Reason(ex.Message)} (line {line}, byte {position}). " +
               "Send one JSON value, for example {\"city\":\"Tokyo\"} or \"text\", or an empty body for no input.";
    }

    private static Dictionary<string, object?> JsonErrorPosition(JsonException ex) => new()
    {
        ["line"] = (ex.LineNumber ?? 0) + 1,
        ["bytePositionInLine"] = (ex.BytePositionInLine ?? 0) + 1,
    };

    // System.Text.Json appends " Path: $ | LineNumber: 0 | BytePositionInLine: 0." with zero-based numbers; we give one-based ones.
    private static string Reason(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        }

        return (cut < 0 ? message : message[..cut]).TrimEnd().TrimEnd('.');
    }

    private static bool IsBlank(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }
}
