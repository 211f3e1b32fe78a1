using Azure.Core;
using Azure.Identity;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// Reads the storage settings the way Azure Functions apps name them: a connection string in
/// <c>AzureWebJobsStorage</c> (<c>UseDevelopmentStorage=true</c> for Azurite), or an identity-based connection
/// in <c>AzureWebJobsStorage__blobServiceUri</c> and <c>__queueServiceUri</c> (or <c>__accountName</c>) with
/// <c>__credential</c> = <c>managedidentity</c> and an optional <c>__clientId</c> for a user-assigned identity.
/// Both the <c>__</c> form (environment variables) and the <c>:</c> form (configuration keys) are read.
/// </summary>
public static class AzureWebJobsStorageSettings
{
    /// <summary>The setting name Azure Functions uses for its own storage.</summary>
    public const string DefaultConnectionName = "AzureWebJobsStorage";

    /// <summary>True when <paramref name="getSetting"/> has a connection string or identity-based settings under the name.</summary>
    public static bool IsConfigured(Func<string, string?> getSetting, string connectionName = DefaultConnectionName)
    {
        ArgumentNullException.ThrowIfNull(getSetting);
        return !string.IsNullOrWhiteSpace(getSetting(connectionName))
            || Read(getSetting, connectionName, "blobServiceUri") is not null
            || Read(getSetting, connectionName, "queueServiceUri") is not null
            || Read(getSetting, connectionName, "accountName") is not null;
    }

    /// <summary>
    /// Copies the settings into <paramref name="options"/>; false (and no change) when none are set. Throws
    /// <see cref="ArgumentException"/> naming the missing or invalid setting when they are incomplete. The
    /// credential is a <see cref="ManagedIdentityCredential"/> for <c>credential=managedidentity</c> and a
    /// <see cref="DefaultAzureCredential"/> otherwise, unless <paramref name="credentialFactory"/> (given the
    /// client id) makes it.
    /// </summary>
    public static bool TryApply(
        AzureStorageStoreOptions options,
        Func<string, string?> getSetting,
        string connectionName = DefaultConnectionName,
        Func<string?, TokenCredential>? credentialFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(getSetting);
        string? connectionString = getSetting(connectionName);
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            options.ConnectionString = connectionString;
            return true;
        }

        string? blob = Read(getSetting, connectionName, "blobServiceUri");
        string? queue = Read(getSetting, connectionName, "queueServiceUri");
        string? account = Read(getSetting, connectionName, "accountName");
        if (blob is null && queue is null && account is null)
        {
            return false;
        }

        if (account is not null)
        {
            blob ??= $"https://{account}.blob.core.windows.net";
            queue ??= $"https://{account}.queue.core.windows.net";
        }

        if (blob is null || queue is null)
        {
            string missing = blob is null ? "blobServiceUri" : "queueServiceUri";
            throw new ArgumentException(
                $"The setting {connectionName}__{missing} is missing. An identity-based storage connection needs both {connectionName}__blobServiceUri " +
                $"and {connectionName}__queueServiceUri (or {connectionName}__accountName).");
        }

        string? clientId = Read(getSetting, connectionName, "clientId");
        string? credential = Read(getSetting, connectionName, "credential");
        options.ConnectionString = null;
        options.BlobServiceUri = ParseUri(connectionName, "blobServiceUri", blob);
        options.QueueServiceUri = ParseUri(connectionName, "queueServiceUri", queue);
        options.Credential = credentialFactory is not null
            ? credentialFactory(clientId)
            : string.Equals(credential, "managedidentity", StringComparison.OrdinalIgnoreCase)
                ? new ManagedIdentityCredential(clientId is null ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(clientId))
                : new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId });
        return true;
    }

    private static string? Read(Func<string, string?> getSetting, string connectionName, string key)
    {
        string? value = getSetting($"{connectionName}__{key}");
        if (string.IsNullOrWhiteSpace(value))
        {
            value = getSetting($"{connectionName}:{key}");
        }

        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    private static Uri ParseUri(string connectionName, string key, string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            ? uri
            : throw new ArgumentException($"The setting {connectionName}__{key} ('{value}') is not an absolute http(s) URI, for example https://account.{(key.StartsWith("queue", StringComparison.Ordinal) ? "queue" : "blob")}.core.windows.net.");
}
