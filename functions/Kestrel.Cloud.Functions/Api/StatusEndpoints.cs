using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>The anonymous routes: <c>GET /</c>, <c>GET /api/health</c>, <c>GET /api/ready</c>.</summary>
public static class StatusEndpoints
{
    private const string Healthy = "Healthy";
    private const string Unhealthy = "Unhealthy";

    /// <summary>The product name reported by <c>GET /</c>.</summary>
    public const string ProductName = "Kestrel.Cloud";

    /// <summary>The server version (the assembly's informational version).</summary>
    public static string Version { get; } =
        typeof(StatusEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(StatusEndpoints).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapStatusEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/", GetRoot).AllowAnonymous();
        endpoints.MapGet("/api/health", GetHealthAsync).AllowAnonymous();
        endpoints.MapGet("/api/ready", GetReady).AllowAnonymous();
        return endpoints;
    }

    private static IResult GetRoot() =>
        TypedResults.Ok(new RootResponse(
            ProductName,
            Version,
            new Dictionary<string, string>
            {
                ["health"] = "/api/health",
                ["ready"] = "/api/ready",
                ["orchestrators"] = "/api/orchestrators",
                ["instances"] = "/api/instances",
                ["agents"] = "/api/agents",
                ["runs"] = "/api/runs",
                ["sessions"] = "/api/sessions",
            }));

    private static async Task<IResult> GetHealthAsync(ServerStatus status, IEnumerable<IHealthComponent> contributors, CancellationToken cancellationToken)
    {
        bool reachable = await status.ProbeStoreAsync(cancellationToken);
        bool running = status.DispatcherRunning;
        bool dispatching = status.DispatchHealthy;
        bool healthy = reachable && dispatching;
        var components = new Dictionary<string, object>
        {
            ["store"] = new StoreHealth(reachable ? Healthy : Unhealthy, status.StoreName, reachable),
            ["dispatcher"] = new DispatcherHealth(dispatching ? Healthy : Unhealthy, running),
        };
        foreach (IHealthComponent component in contributors)
        {
            HealthComponentReport report = await component.CheckAsync(cancellationToken);
            var entry = new Dictionary<string, object?> { ["status"] = report.State.ToString() };
            foreach ((string key, object? value) in report.Details)
            {
                entry[key] = value;
            }

            components[component.Name] = entry;
            healthy &= report.State != HealthState.Unhealthy;
        }

        var body = new HealthResponse(healthy ? Healthy : Unhealthy, components);
        return TypedResults.Json(body, statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private static IResult GetReady(ServerStatus status)
    {
        IReadOnlyList<string> blockers = status.ReadinessBlockers();
        var body = new ReadyResponse(blockers.Count == 0, status.StoreInitialized, status.DispatcherRunning, blockers);
        return TypedResults.Json(body, statusCode: blockers.Count == 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
