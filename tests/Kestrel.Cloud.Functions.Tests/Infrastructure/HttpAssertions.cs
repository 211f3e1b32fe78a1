using System.Net;
using System.Text;
using System.Text.Json;

namespace Kestrel.Cloud.Functions.Tests.Infrastructure;

/// <summary>Reading JSON responses and asserting problem responses.</summary>
public static class HttpAssertions
{
    /// <summary>Asserts the status and returns the body as JSON.</summary>
    public static async Task<JsonElement> ShouldBeJsonAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        string body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(expected, "the body was {0}", body);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/json");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Asserts an <c>application/problem+json</c> response with the status and code, and returns it.</summary>
    public static async Task<JsonElement> ShouldBeProblemAsync(this HttpResponseMessage response, HttpStatusCode expected, string code)
    {
        string body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(expected, "the body was {0}", body);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
        JsonElement problem = JsonDocument.Parse(body).RootElement.Clone();
        problem.GetProperty("status").GetInt32().Should().Be((int)expected);
        problem.GetProperty("code").GetString().Should().Be(code);
        problem.GetProperty("correlationId").GetString().Should().NotBeNullOrEmpty();
        return problem;
    }

    /// <summary>The problem's detail text.</summary>
    public static string Detail(this JsonElement problem) => problem.GetProperty("detail").GetString()!;

    /// <summary>A JSON body.</summary>
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
