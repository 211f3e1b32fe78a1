using System.Net;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Api;

/// <summary>
/// The signed one-click approval links, <c>/api/approvals/{token}</c>, usable without an API key because they are sent
/// to a human. <c>GET</c> only shows a confirmation page (mail and chat link scanners prefetch links, so a GET must
/// never decide); the page's form <c>POST</c>s to the same URL, which decides. Answers are small HTML pages:
/// 200 shown/decided, 400 forged or malformed, 404 run gone, 409 already used or no longer pending, 410 expired.
/// The decision order is <see cref="ApprovalDecider"/>'s.
/// </summary>
public static class ApprovalEndpoints
{
    private const int MaxReasonLength = 1000;
    private const int MaxArgumentsShown = 4000;

    // Arguments are shown as people read them (no \u003C escapes); the page HTML-encodes them, which is what makes them safe.
    private static readonly JsonSerializerOptions DisplayJson = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Maps the routes (anonymous).</summary>
    public static IEndpointRouteBuilder MapApprovalEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        // HEAD too: link checkers send it, and like GET it only looks.
        endpoints.MapMethods(SignedApprovalLinkFactory.RoutePrefix + "{token}", new[] { HttpMethods.Get, HttpMethods.Head }, ShowAsync).AllowAnonymous();
        endpoints.MapPost(SignedApprovalLinkFactory.RoutePrefix + "{token}", DecideAsync).AllowAnonymous();
        return endpoints;
    }

    private static async Task<IResult> ShowAsync(string token, HttpContext context, ApprovalLinkSigner signer, TimeProvider time, IAgentRunService runs, ILoggerFactory loggers)
    {
        ILogger logger = loggers.CreateLogger(Log.Category);
        if (Check(token, signer, time, logger, out ApprovalLinkClaims? claims) is { } refused)
        {
            return refused;
        }

        RunInfo? run = await runs.GetAsync(claims!.RunId, context.RequestAborted);
        if (run is null)
        {
            return RunGone();
        }

        PendingApproval? pending = run.PendingApprovals.FirstOrDefault(p => p.CallId == claims.CallId);
        if (pending is null)
        {
            return NotPending(run);
        }

        bool approve = claims.Decision == ApprovalLinkDecision.Approve;
        string verb = approve ? "Approve" : "Deny";
        var body = new StringBuilder();
        body.Append("<p>The agent <b>").Append(Enc(run.Agent)).Append("</b> wants to call the tool <b>").Append(Enc(pending.Tool)).Append("</b> with:</p>");
        body.Append("<pre>").Append(Enc(Shorten(JsonSerializer.Serialize(pending.Arguments, DisplayJson)))).Append("</pre>");
        body.Append("<p>Run <code>").Append(Enc(run.RunId)).Append("</code>, call <code>").Append(Enc(pending.CallId)).Append("</code>. This link works once and expires at ")
            .Append(Enc(claims.ExpiresAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture))).Append(" UTC.</p>");
        body.Append("<form method=\"post\"><p><label>Reason (optional)<br><input name=\"reason\" maxlength=\"").Append(MaxReasonLength).Append("\" size=\"60\"></label></p>");
        body.Append("<p><button type=\"submit\">").Append(verb).Append(" this call</button></p></form>");
        return Page(StatusCodes.Status200OK, $"{verb} a tool call?", body.ToString());
    }

    private static async Task<IResult> DecideAsync(string token, HttpContext context, ApprovalLinkSigner signer, TimeProvider time, IAgentRunService runs, IApprovalLinkLedger ledger, ILoggerFactory loggers)
    {
        ILogger logger = loggers.CreateLogger(Log.Category);
        if (Check(token, signer, time, logger, out ApprovalLinkClaims? claims) is { } refused)
        {
            return refused;
        }

        string? reason = null;
        if (context.Request.HasFormContentType)
        {
            IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted);
            string value = form["reason"].ToString().Trim();
            reason = value.Length == 0 ? null : value.Length > MaxReasonLength ? value[..MaxReasonLength] : value;
        }

        bool approve = claims!.Decision == ApprovalLinkDecision.Approve;
        ApprovalOutcome outcome = await ApprovalDecider.DecideAsync(
            runs, ledger, claims.RunId, claims.CallId, new ApprovalDecision(approve, reason, "approval link"), context.RequestAborted);
        Log.ApprovalDecided(logger, claims.RunId, claims.CallId, approve ? "approve" : "deny", "signed link", outcome.ToString());
        switch (outcome)
        {
            case ApprovalOutcome.Accepted:
                return Page(
                    StatusCodes.Status200OK,
                    approve ? "Approved" : "Denied",
                    approve
                        ? "<p>The call is approved; the agent goes on. You can close this page.</p>"
                        : "<p>The call is denied; the agent is told so. You can close this page.</p>");
            case ApprovalOutcome.RunNotFound:
                return RunGone();
            default:
                return NotPending(await runs.GetAsync(claims.RunId, context.RequestAborted));
        }
    }

    /// <summary>The refusal page for a token that is not valid; null when it is (then <paramref name="claims"/> is set).</summary>
    private static IResult? Check(string token, ApprovalLinkSigner signer, TimeProvider time, ILogger logger, out ApprovalLinkClaims? claims)
    {
        switch (signer.Verify(token, time.GetUtcNow(), out claims))
        {
            case ApprovalLinkStatus.Valid:
                return null;
            case ApprovalLinkStatus.Expired:
                Log.ApprovalLinkRefused(logger, "expired");
                return Page(
                    StatusCodes.Status410Gone,
                    "This approval link has expired",
                    "<p>The link stopped working at " + Enc(claims!.ExpiresAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture)) +
                    " UTC. If nobody decided in time, the call was treated as denied. Ask the agent again if it is still needed.</p>");
            default:
                Log.ApprovalLinkRefused(logger, "forged or malformed token");
                return Page(
                    StatusCodes.Status400BadRequest,
                    "This approval link is not valid",
                    "<p>The link is damaged or was not issued by this server (its signature does not match). Open the link exactly as you received it; if it was cut across lines, join it again.</p>");
        }
    }

    private static IResult RunGone() => Page(
        StatusCodes.Status404NotFound,
        "This run no longer exists",
        "<p>The run this link belongs to was not found; it may have been deleted. Nothing was decided.</p>");

    private static IResult NotPending(RunInfo? run) => Page(
        StatusCodes.Status409Conflict,
        "This approval link was already used",
        "<p>This call is no longer waiting for a decision: someone already approved or denied it (with this link, the other link or the API), it timed out, or the run ended" +
        (run is null ? "." : $" (the run is now {Enc(run.Status.ToString())}).") + " Nothing was changed.</p>");

    private static IResult Page(int status, string title, string bodyHtml)
    {
        string html =
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
            "<meta name=\"robots\" content=\"noindex\"><title>" + Enc(title) + " - Kestrel.Cloud</title>" +
            "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.5rem;overflow:auto}button{font-size:1.1rem;padding:.4rem 1.2rem}</style>" +
            "</head><body><h1>" + Enc(title) + "</h1>" + bodyHtml + "</body></html>";
        return new HtmlPage(status, html);
    }

    private static string Enc(string text) => WebUtility.HtmlEncode(text);

    private static string Shorten(string text) => text.Length <= MaxArgumentsShown ? text : text[..MaxArgumentsShown] + "\n…";

    /// <summary>An HTML answer with the headers a page carrying a secret URL needs.</summary>
    private sealed class HtmlPage(int status, string html) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            HttpResponse response = httpContext.Response;
            response.StatusCode = status;
            response.ContentType = "text/html; charset=utf-8";
            response.Headers.CacheControl = "no-store";
            // The token is in the URL: never send it on as a Referer; never frame the page (clickjacking).
            response.Headers["Referrer-Policy"] = "no-referrer";
            response.Headers["X-Content-Type-Options"] = "nosniff";
            response.Headers["X-Frame-Options"] = "DENY";
            response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
            await response.WriteAsync(html, Encoding.UTF8, httpContext.RequestAborted);
        }
    }
}
