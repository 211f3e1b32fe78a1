using System.Buffers.Text;
using System.Text;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Security;

/// <summary>
/// The key that signs approval links: <c>KestrelCloud:Approvals:SigningKey</c> (its UTF-8 bytes) when configured,
/// otherwise 32 random bytes kept (base64url) in <c>approval-signing-key</c> in the data folder, created owner-only at
/// first start like the API key file. The key itself is never logged.
/// </summary>
public static class ApprovalSigningKey
{
    /// <summary>The name of the generated key file in the data folder.</summary>
    public const string KeyFileName = "approval-signing-key";

    /// <summary>Loads (or generates) the key and returns a signer over it.</summary>
    public static ApprovalLinkSigner CreateSigner(string? configuredKey, string dataPath, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        if (!string.IsNullOrWhiteSpace(configuredKey))
        {
            Log.ApprovalSigningKeySource(logger, "KestrelCloud:Approvals:SigningKey");
            return new ApprovalLinkSigner(Encoding.UTF8.GetBytes(configuredKey.Trim()));
        }

        string path = Path.Combine(dataPath, KeyFileName);
        byte[] key = ReadKeyFile(path) ?? WriteNewKeyFile(path) ?? ReadKeyFile(path)
            ?? throw new InvalidOperationException($"The approval signing key file {path} is empty or not valid. Delete it to generate a new key, or set KestrelCloud:Approvals:SigningKey.");
        Log.ApprovalSigningKeySource(logger, path);
        return new ApprovalLinkSigner(key);
    }

    private static byte[]? ReadKeyFile(string path)
    {
        if (SecretFile.TryRead(path) is not { } text)
        {
            return null;
        }

        try
        {
            byte[] key = Base64Url.DecodeFromChars(text);
            return key.Length >= ApprovalLinkSigner.MinKeySizeBytes ? key : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Creates the file with a new key (replacing an empty or damaged one); null when another process created it first (the caller reads theirs).</summary>
    private static byte[]? WriteNewKeyFile(string path)
    {
        byte[] key = ApprovalLinkSigner.NewKey();
        return SecretFile.TryWriteNew(path, Base64Url.EncodeToString(key)) ? key : null;
    }
}

/// <summary>
/// The base URL of links sent to humans: <c>KestrelCloud:PublicBaseUrl</c> when set; else, on Azure App Service and
/// Azure Functions, <c>https://{WEBSITE_HOSTNAME}</c> (the platform sets it; the app itself only listens on loopback
/// there); else the first address the server listens on (a wildcard host such as <c>0.0.0.0</c> or <c>+</c> becomes
/// <c>localhost</c>).
/// </summary>
public sealed class PublicBaseUrl
{
    private readonly string? configured;
    private readonly IServer server;
    private readonly ListenUrls urls;

    /// <summary>The variable Azure App Service and Azure Functions set to the app's default host name.</summary>
    public const string WebsiteHostNameVariable = "WEBSITE_HOSTNAME";

    /// <summary>Creates the resolver.</summary>
    public PublicBaseUrl(Microsoft.Extensions.Options.IOptions<KestrelCloudOptions> options, IServer server, ListenUrls urls, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configuration);
        string? website = configuration[WebsiteHostNameVariable];
        this.configured = !string.IsNullOrWhiteSpace(options.Value.PublicBaseUrl) ? options.Value.PublicBaseUrl.Trim().TrimEnd('/')
            : !string.IsNullOrWhiteSpace(website) ? "https://" + website.Trim().TrimEnd('/')
            : null;
        this.server = server;
        this.urls = urls;
    }

    /// <summary>The base URL without a trailing slash, for example <c>http://127.0.0.1:5077</c>.</summary>
    public string Value
    {
        get
        {
            if (this.configured is not null)
            {
                return this.configured;
            }

            string? address = this.server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                ?? this.urls.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            return Normalize(address ?? KestrelCloudOptions.DefaultUrl);
        }
    }

    private static string Normalize(string address)
    {
        string a = address.TrimEnd('/');
        foreach (string wildcard in new[] { "://0.0.0.0", "://+", "://*", "://[::]" })
        {
            a = a.Replace(wildcard, "://localhost", StringComparison.Ordinal);
        }

        return a;
    }
}

/// <summary>
/// Makes the approve and deny URLs of a pending tool call: <c>{PublicBaseUrl}/api/approvals/{token}</c>, where the token
/// is HMAC-signed over run, call, decision and expiry (<see cref="ApprovalLinkSigner"/>). The URL works without an
/// API key; a GET shows a confirmation page and only the POST from that page decides.
/// </summary>
public sealed class SignedApprovalLinkFactory : IApprovalLinkFactory
{
    /// <summary>The route prefix of signed links.</summary>
    public const string RoutePrefix = "/api/approvals/";

    private readonly ApprovalLinkSigner signer;
    private readonly PublicBaseUrl baseUrl;

    /// <summary>Creates the factory.</summary>
    public SignedApprovalLinkFactory(ApprovalLinkSigner signer, PublicBaseUrl baseUrl)
    {
        this.signer = signer;
        this.baseUrl = baseUrl;
    }

    /// <inheritdoc />
    public (string ApproveUrl, string DenyUrl) CreateLinks(string runId, string callId, DateTimeOffset expiresAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentException.ThrowIfNullOrEmpty(callId);
        string root = this.baseUrl.Value + RoutePrefix;
        string approve = this.signer.Sign(new ApprovalLinkClaims(runId, callId, ApprovalLinkDecision.Approve, expiresAt));
        string deny = this.signer.Sign(new ApprovalLinkClaims(runId, callId, ApprovalLinkDecision.Deny, expiresAt));
        return (root + approve, root + deny);
    }
}
