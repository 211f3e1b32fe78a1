using System.Security.Claims;
using System.Text.Encodings.Web;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.Http;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Kestrel.Cloud.Functions.Security;

/// <summary>
/// Authenticates a request by its API key: the <c>x-api-key</c> header or <c>Authorization: Bearer &lt;key&gt;</c>.
/// A challenge answers 401 with a problem that says how to send a key and where to find one.
/// </summary>
public sealed class ApiKeyAuthenticationHandler : AuthenticationHandler<AuthenticationSchemeOptions>
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "ApiKey";

    /// <summary>The API key header.</summary>
    public const string HeaderName = "x-api-key";

    private const string BearerPrefix = "Bearer ";
    private const string WhereToFindKey =
        "Configure keys with KestrelCloud:ApiKeys:0 (environment variable KestrelCloud__ApiKeys__0); when none is configured, " +
        "the server generates one at first start and stores it in api-key.txt in its data folder (the path is in the server log).";

    private readonly ApiKeyRing ring;
    private readonly ILogger serverLogger;

    /// <summary>Creates the handler.</summary>
    public ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyRing ring)
        : base(options, logger, encoder)
    {
        this.ring = ring;
        this.serverLogger = logger.CreateLogger(Log.Category);
    }

    /// <inheritdoc/>
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? key;
        string via;
        if (this.Request.Headers.TryGetValue(HeaderName, out var apiKeyHeader))
        {
            if (apiKeyHeader.Count != 1)
            {
                return Task.FromResult(AuthenticateResult.Fail($"Send the {HeaderName} header once; it was sent {apiKeyHeader.Count} times."));
            }

            key = apiKeyHeader[0]?.Trim();
            via = $"the {HeaderName} header";
        }
        else if (this.Request.Headers.TryGetValue(HeaderNames.Authorization, out var authorization))
        {
            string value = authorization.ToString();
            if (!value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult(AuthenticateResult.Fail(
                    "The Authorization header must use the Bearer scheme: 'Authorization: Bearer <key>' (or send the key in the x-api-key header)."));
            }

            key = value[BearerPrefix.Length..].Trim();
            via = "the Authorization header";
        }
        else
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (!this.ring.IsValid(key))
        {
            return Task.FromResult(AuthenticateResult.Fail(
                $"The API key sent in {via} is not valid. Check it for typos and stray whitespace, and use one of the server's keys. {WhereToFindKey}"));
        }

        var identity = new ClaimsIdentity(new[] { new Claim(ClaimTypes.Name, "api-key") }, SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    /// <inheritdoc/>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        AuthenticateResult result = await this.HandleAuthenticateOnceSafeAsync();
        bool missing = result.None;
        string detail = missing
            ? $"This endpoint requires an API key. Send it in the {HeaderName} header (curl -H '{HeaderName}: <key>') or as 'Authorization: Bearer <key>'. {WhereToFindKey}"
            : result.Failure?.Message ?? "The API key is not valid.";
        Log.ApiKeyRejected(this.serverLogger, this.Request.Method, this.Request.Path, missing ? "no API key" : "invalid API key");
        this.Response.Headers.WWWAuthenticate = "Bearer realm=\"kestrel-cloud\"";
        await ProblemWriter.WriteAsync(
            this.Context,
            ProblemWriter.Create(this.Context, StatusCodes.Status401Unauthorized, missing ? ProblemCodes.ApiKeyMissing : ProblemCodes.ApiKeyInvalid, detail));
    }
}
