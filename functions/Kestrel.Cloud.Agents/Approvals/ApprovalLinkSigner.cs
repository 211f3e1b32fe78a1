using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Kestrel.Cloud.Agents.Approvals;

/// <summary>The decision a signed link carries.</summary>
public enum ApprovalLinkDecision
{
    /// <summary>The link approves the call.</summary>
    Approve,

    /// <summary>The link denies the call.</summary>
    Deny,
}

/// <summary>What a signed link says, once its signature checked out.</summary>
/// <param name="RunId">The run.</param>
/// <param name="CallId">The tool call.</param>
/// <param name="Decision">Approve or deny.</param>
/// <param name="ExpiresAt">When the link stops working.</param>
public sealed record ApprovalLinkClaims(string RunId, string CallId, ApprovalLinkDecision Decision, DateTimeOffset ExpiresAt)
{
    /// <summary>The ledger id: one per run and call, so after either link was used, both are spent.</summary>
    public string LinkId => $"{this.RunId}/{this.CallId}";
}

/// <summary>Why a token was refused, or <see cref="Valid"/>.</summary>
public enum ApprovalLinkStatus
{
    /// <summary>Signature good and not expired.</summary>
    Valid,

    /// <summary>Not a token this server issues (bad shape or encoding).</summary>
    Malformed,

    /// <summary>The signature does not match: forged, altered, or signed with another key.</summary>
    BadSignature,

    /// <summary>Signed by us, but past its expiry.</summary>
    Expired,
}

/// <summary>
/// Signs and verifies one-click approval tokens: <c>base64url(payload).base64url(HMAC-SHA256(key, payload))</c> where
/// the payload names the run, the call, the decision and the expiry. The HMAC covers all four, so no part can be
/// changed; the comparison is constant-time. Single use is the ledger's job (<see cref="IApprovalLinkLedger"/>).
/// </summary>
public sealed class ApprovalLinkSigner
{
    /// <summary>The shortest signing key accepted, in bytes.</summary>
    public const int MinKeySizeBytes = 32;

    /// <summary>Longest token accepted before any parsing.</summary>
    public const int MaxTokenLength = 2048;

    private readonly byte[] key;

    /// <summary>Creates a signer with <paramref name="key"/> (at least <see cref="MinKeySizeBytes"/> bytes).</summary>
    public ApprovalLinkSigner(ReadOnlySpan<byte> key)
    {
        if (key.Length < MinKeySizeBytes)
        {
            throw new ArgumentException($"An approval signing key must have at least {MinKeySizeBytes} bytes; it has {key.Length}.", nameof(key));
        }

        this.key = key.ToArray();
    }

    /// <summary>A fresh random key of 32 bytes.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(MinKeySizeBytes);

    /// <summary>The token for <paramref name="claims"/>.</summary>
    public string Sign(ApprovalLinkClaims claims)
    {
        ArgumentNullException.ThrowIfNull(claims);
        var payload = new Payload(claims.RunId, claims.CallId, claims.Decision == ApprovalLinkDecision.Approve ? "approve" : "deny", claims.ExpiresAt.ToUnixTimeSeconds());
        byte[] payloadBytes = JsonSerializer.SerializeToUtf8Bytes(payload);
        byte[] mac = HMACSHA256.HashData(this.key, payloadBytes);
        return Base64Url.EncodeToString(payloadBytes) + "." + Base64Url.EncodeToString(mac);
    }

    /// <summary>Checks <paramref name="token"/> at <paramref name="now"/>; the claims are returned when the signature is good (also when expired, so the caller can say which call the link was for).</summary>
    public ApprovalLinkStatus Verify(string? token, DateTimeOffset now, out ApprovalLinkClaims? claims)
    {
        claims = null;
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength)
        {
            return ApprovalLinkStatus.Malformed;
        }

        int dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot != token.LastIndexOf('.') || dot == token.Length - 1)
        {
            return ApprovalLinkStatus.Malformed;
        }

        byte[] payloadBytes;
        byte[] mac;
        try
        {
            payloadBytes = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            mac = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            return ApprovalLinkStatus.Malformed;
        }

        byte[] expected = HMACSHA256.HashData(this.key, payloadBytes);
        if (!CryptographicOperations.FixedTimeEquals(expected, mac))
        {
            return ApprovalLinkStatus.BadSignature;
        }

        Payload? payload;
        try
        {
            payload = JsonSerializer.Deserialize<Payload>(payloadBytes);
        }
        catch (JsonException)
        {
            return ApprovalLinkStatus.Malformed;
        }

        if (payload is null || string.IsNullOrEmpty(payload.R) || string.IsNullOrEmpty(payload.C) || payload.D is not ("approve" or "deny"))
        {
            return ApprovalLinkStatus.Malformed;
        }

        claims = new ApprovalLinkClaims(payload.R, payload.C, payload.D == "approve" ? ApprovalLinkDecision.Approve : ApprovalLinkDecision.Deny, DateTimeOffset.FromUnixTimeSeconds(payload.E));
        return now >= claims.ExpiresAt ? ApprovalLinkStatus.Expired : ApprovalLinkStatus.Valid;
    }

    private sealed record Payload(
        [property: System.Text.Json.Serialization.JsonPropertyName("r")] string R,
        [property: System.Text.Json.Serialization.JsonPropertyName("c")] string C,
        [property: System.Text.Json.Serialization.JsonPropertyName("d")] string D,
        [property: System.Text.Json.Serialization.JsonPropertyName("e")] long E);
}

/// <summary>
/// Makes the URLs of an approval's two links. The HTTP layer implements it (it knows the public base URL); the
/// turn's activities call it when they append an approval request.
/// </summary>
public interface IApprovalLinkFactory
{
    /// <summary>The approve and deny URLs for a call, valid until <paramref name="expiresAt"/>.</summary>
    (string ApproveUrl, string DenyUrl) CreateLinks(string runId, string callId, DateTimeOffset expiresAt);
}
