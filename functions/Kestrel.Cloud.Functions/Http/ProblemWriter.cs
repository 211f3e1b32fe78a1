using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Http;

/// <summary>Builds and writes <c>application/problem+json</c> responses with a <c>code</c> and a <c>correlationId</c>.</summary>
public static class ProblemWriter
{
    /// <summary>The problem content type.</summary>
    public const string ContentType = "application/problem+json";

    /// <summary>The id that ties a response to the server log: the trace id of the request.</summary>
    public static string CorrelationId(HttpContext context) => Activity.Current?.Id ?? context.TraceIdentifier;

    /// <summary>Builds a problem.</summary>
    public static ProblemDetails Create(HttpContext context, int statusCode, string code, string detail, IReadOnlyDictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails
        {
            Status = statusCode,
            Title = ReasonPhrase(statusCode),
            Detail = detail,
            Instance = context.Request.Path.Value,
        };
        problem.Extensions["code"] = code;
        if (extensions is not null)
        {
            foreach (var (key, value) in extensions)
            {
                problem.Extensions[key] = value;
            }
        }

        problem.Extensions["correlationId"] = CorrelationId(context);
        return problem;
    }

    /// <summary>
    /// Writes a problem as the response through the app's <see cref="IProblemDetailsService"/> (so every problem gets
    /// the same <c>type</c> and customisation), or directly when that service declines because of the Accept header:
    /// the response is <c>application/problem+json</c> either way.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, ProblemDetails problem)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(problem);
        context.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        if (context.RequestServices.GetService<IProblemDetailsService>() is { } service
            && await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            return;
        }

        await context.Response.WriteAsJsonAsync(problem, typeof(ProblemDetails), options: null, contentType: ContentType, cancellationToken: context.RequestAborted);
    }

    /// <summary>The standard reason phrase of a status code.</summary>
    public static string ReasonPhrase(int statusCode)
    {
        string phrase = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(statusCode);
        return phrase.Length == 0 ? "Error" : phrase;
    }
}
