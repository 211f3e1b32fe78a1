using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Functions.Security;

/// <summary>Where the accepted API keys came from.</summary>
public enum ApiKeySource
{
    /// <summary><c>KestrelCloud:ApiKeys</c>.</summary>
    Configuration,

    /// <summary>Generated at this start and written to <c>api-key.txt</c>.</summary>
    Generated,

    /// <summary>Read from <c>api-key.txt</c>, generated at an earlier start.</summary>
    KeyFile,
}

/// <summary>
/// The API keys the server accepts, kept only as SHA-256 hashes. A presented key is hashed and compared with
/// every accepted hash in constant time, so neither the match position nor the key length leaks through timing.
/// </summary>
public sealed class ApiKeyRing
{
    /// <summary>The name of the generated key file in the data folder.</summary>
    public const string KeyFileName = "api-key.txt";

    /// <summary>Prefix of generated keys, so secret scanners can recognise them.</summary>
    public const string GeneratedKeyPrefix = "kc_";

    private const int GeneratedKeyBytes = 32;
    private readonly byte[][] hashes;

    private ApiKeyRing(IEnumerable<string> keys, ApiKeySource source, string? keyFilePath)
    {
        this.hashes = keys.Select(Hash).ToArray();
        this.Source = source;
        this.KeyFilePath = keyFilePath;
    }

    /// <summary>Where the keys came from.</summary>
    public ApiKeySource Source { get; }

    /// <summary>The key file when the key was generated or read from it; otherwise null.</summary>
    public string? KeyFilePath { get; }

    /// <summary>How many keys are accepted.</summary>
    public int Count => this.hashes.Length;

    /// <summary>
    /// Uses the configured keys; when there are none, reads <c>api-key.txt</c> from <paramref name="dataPath"/>, or
    /// generates a key and writes it there (owner-only file mode on Unix). Logs the file path, never the key.
    /// </summary>
    public static ApiKeyRing Load(IReadOnlyList<string> configuredKeys, string dataPath, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(configuredKeys);
        ArgumentNullException.ThrowIfNull(logger);
        if (configuredKeys.Count > 0)
        {
            Log.ApiKeysConfigured(logger, configuredKeys.Count);
            return new ApiKeyRing(configuredKeys.Select(k => k.Trim()), ApiKeySource.Configuration, null);
        }

        string path = Path.Combine(dataPath, KeyFileName);
        if (SecretFile.TryRead(path) is { } existing)
        {
            Log.ApiKeyLoadedFromFile(logger, path);
            return new ApiKeyRing(new[] { existing }, ApiKeySource.KeyFile, path);
        }

        string key = GenerateKey();
        if (!SecretFile.TryWriteNew(path, key))
        {
            // Another process created the file between our read and our write: use its key.
            string raced = SecretFile.TryRead(path)
                ?? throw new InvalidOperationException($"The API key file {path} exists but is empty. Delete it to generate a new key, or configure KestrelCloud:ApiKeys:0.");
            Log.ApiKeyLoadedFromFile(logger, path);
            return new ApiKeyRing(new[] { raced }, ApiKeySource.KeyFile, path);
        }

        Log.ApiKeyGenerated(logger, path);
        return new ApiKeyRing(new[] { key }, ApiKeySource.Generated, path);
    }

    /// <summary>A ring over the given keys (tests and tools).</summary>
    public static ApiKeyRing FromKeys(params string[] keys) => new(keys, ApiKeySource.Configuration, null);

    /// <summary>True when <paramref name="presentedKey"/> is one of the accepted keys. Constant time in the number of keys.</summary>
    public bool IsValid(string? presentedKey)
    {
        if (string.IsNullOrEmpty(presentedKey))
        {
            return false;
        }

        byte[] presented = Hash(presentedKey);
        bool match = false;
        foreach (byte[] accepted in this.hashes)
        {
            // No early exit: every key is compared.
            match |= CryptographicOperations.FixedTimeEquals(presented, accepted);
        }

        return match;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string GenerateKey() =>
        GeneratedKeyPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(GeneratedKeyBytes));
}
