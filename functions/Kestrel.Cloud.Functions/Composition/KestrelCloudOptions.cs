namespace Kestrel.Cloud.Functions.Composition;

/// <summary>
/// Server settings (configuration section <c>KestrelCloud</c>, environment variables <c>KestrelCloud__*</c>).
/// The engine's own limits live in <c>KestrelCloud:Durable</c> (<see cref="Durable.DurableTaskOptions"/>).
/// Validated once when the app is built; all errors are reported together.
/// </summary>
public sealed class KestrelCloudOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "KestrelCloud";

    /// <summary>The default listening URL: loopback only.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5077";

    /// <summary>Shortest API key accepted from configuration.</summary>
    public const int MinApiKeyLength = 16;

    /// <summary>Folder for the SQLite database and the generated API key; relative paths are under the working directory.</summary>
    /// <value>The default value is <c>.data</c>.</value>
    public string DataPath { get; set; } = ".data";

    /// <summary>
    /// The API keys clients may send (<c>KestrelCloud:ApiKeys:0</c>, <c>:1</c>, ...). When none is configured,
    /// a key is generated at first start and stored in <c>api-key.txt</c> in <see cref="DataPath"/>.
    /// </summary>
    /// <value>The default value is empty (generate one).</value>
    public List<string> ApiKeys { get; set; } = new();

    /// <summary>The listening URLs (semicolon separated) when neither <c>ASPNETCORE_URLS</c>/<c>--urls</c> nor
    /// <c>FUNCTIONS_CUSTOMHANDLER_PORT</c> is set.</summary>
    /// <value>The default value is <c>http://127.0.0.1:5077</c>.</value>
    public string Urls { get; set; } = DefaultUrl;

    /// <summary>HTTP limits.</summary>
    public KestrelCloudHttpOptions Http { get; set; } = new();

    /// <summary>Store selection (the rest of the <c>Durable</c> section binds <see cref="Durable.DurableTaskOptions"/>).</summary>
    public KestrelCloudDurableOptions Durable { get; set; } = new();

    /// <summary>The sample orchestrations.</summary>
    public KestrelCloudSamplesOptions Samples { get; set; } = new();

    /// <summary>Housekeeping: re-waking stalled instances and purging old finished ones.</summary>
    public KestrelCloudHousekeepingOptions Housekeeping { get; set; } = new();

    /// <summary>
    /// The absolute URL people and clients reach the server at (for example <c>https://agents.example.com</c>); used
    /// for the signed approval links sent to humans. Empty uses the first listening URL.
    /// </summary>
    /// <value>The default value is empty (the listening URL).</value>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Signed approval links.</summary>
    public KestrelCloudApprovalsOptions Approvals { get; set; } = new();

    /// <summary>The agents HTTP API: message waits and the run event stream.</summary>
    public KestrelCloudAgentsApiOptions AgentsApi { get; set; } = new();

    /// <summary>The configured API keys, without blank entries.</summary>
    public IReadOnlyList<string> ConfiguredApiKeys => this.ApiKeys.Where(k => !string.IsNullOrWhiteSpace(k)).ToList();

    /// <summary>The data folder as a full path.</summary>
    public string GetFullDataPath() => Path.GetFullPath(this.DataPath, Directory.GetCurrentDirectory());

    /// <summary>Throws one <see cref="InvalidOperationException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(this.DataPath))
        {
            errors.Add("KestrelCloud:DataPath must not be empty; remove it to use '.data' under the working directory.");
        }

        for (int i = 0; i < this.ApiKeys.Count; i++)
        {
            string key = this.ApiKeys[i];
            if (!string.IsNullOrWhiteSpace(key) && key.Trim().Length < MinApiKeyLength)
            {
                errors.Add($"KestrelCloud:ApiKeys:{i} is {key.Trim().Length} characters; use at least {MinApiKeyLength} random characters (for example the output of 'openssl rand -base64 32').");
            }
        }

        if (string.IsNullOrWhiteSpace(this.Urls))
        {
            errors.Add($"KestrelCloud:Urls must not be empty; remove it to listen on {DefaultUrl}.");
        }

        if (this.Http.MaxRequestBodySizeBytes < KestrelCloudHttpOptions.MinRequestBodySizeBytes)
        {
            errors.Add($"KestrelCloud:Http:MaxRequestBodySizeBytes must be at least {KestrelCloudHttpOptions.MinRequestBodySizeBytes}; it is {this.Http.MaxRequestBodySizeBytes}.");
        }

        if (!DurableStoreRegistration.IsKnownStore(this.Durable.Store))
        {
            errors.Add($"KestrelCloud:Durable:Store must be one of {string.Join(", ", DurableStoreRegistration.KnownStores.Select(s => $"'{s}'"))}; it is '{this.Durable.Store}'.");
        }

        if (this.Housekeeping.CompletedInstanceRetention < TimeSpan.Zero)
        {
            errors.Add($"KestrelCloud:Housekeeping:CompletedInstanceRetention must not be negative; it is {this.Housekeeping.CompletedInstanceRetention}. Use 00:00:00 to keep finished instances forever.");
        }

        if (this.Housekeeping.SweepMinimumAge < TimeSpan.Zero)
        {
            errors.Add($"KestrelCloud:Housekeeping:SweepMinimumAge must not be negative; it is {this.Housekeeping.SweepMinimumAge}.");
        }

        if (this.Housekeeping.Interval < KestrelCloudHousekeepingOptions.MinInterval)
        {
            errors.Add($"KestrelCloud:Housekeeping:Interval must be at least {KestrelCloudHousekeepingOptions.MinInterval}; it is {this.Housekeeping.Interval}.");
        }

        if (!string.IsNullOrWhiteSpace(this.PublicBaseUrl)
            && (!Uri.TryCreate(this.PublicBaseUrl.Trim(), UriKind.Absolute, out Uri? publicUri)
                || (publicUri.Scheme != Uri.UriSchemeHttp && publicUri.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(publicUri.Query) || !string.IsNullOrEmpty(publicUri.Fragment)))
        {
            errors.Add($"KestrelCloud:PublicBaseUrl must be an absolute http or https URL without query or fragment, for example https://agents.example.com; it is '{this.PublicBaseUrl}'.");
        }

        if (!string.IsNullOrWhiteSpace(this.Approvals.SigningKey) && System.Text.Encoding.UTF8.GetByteCount(this.Approvals.SigningKey.Trim()) < KestrelCloudApprovalsOptions.MinSigningKeyLength)
        {
            errors.Add($"KestrelCloud:Approvals:SigningKey is too short; use at least {KestrelCloudApprovalsOptions.MinSigningKeyLength} random characters (for example the output of 'openssl rand -base64 48'), or remove it to use a generated key file.");
        }

        errors.AddRange(this.AgentsApi.Validate());

        if (errors.Count > 0)
        {
            throw new InvalidOperationException("Invalid KestrelCloud configuration: " + string.Join(" ", errors));
        }
    }
}

/// <summary>HTTP limits (<c>KestrelCloud:Http</c>).</summary>
public sealed class KestrelCloudHttpOptions
{
    /// <summary>Smallest allowed body limit.</summary>
    public const long MinRequestBodySizeBytes = 1024;

    /// <summary>Largest request body accepted; larger bodies get 413.</summary>
    /// <value>The default value is 1,048,576 (1 MiB).</value>
    public long MaxRequestBodySizeBytes { get; set; } = 1_048_576;
}

/// <summary>Store selection (<c>KestrelCloud:Durable</c>).</summary>
public sealed class KestrelCloudDurableOptions
{
    /// <summary>
    /// The engine store: <c>sqlite</c> (a file in the data folder), <c>memory</c> (nothing survives the process) or
    /// <c>azure-storage</c> (blobs and queues of <c>AzureWebJobsStorage</c>). Empty chooses: <c>azure-storage</c> when
    /// <c>AzureWebJobsStorage</c> (or its identity-based form) is set, else <c>sqlite</c>.
    /// </summary>
    /// <value>The default value is empty (choose from the settings).</value>
    public string? Store { get; set; }
}

/// <summary>The sample orchestrations (<c>KestrelCloud:Samples</c>).</summary>
public sealed class KestrelCloudSamplesOptions
{
    /// <summary>Registers HelloSequence and ApprovalWorkflow.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;
}

/// <summary>Housekeeping (<c>KestrelCloud:Housekeeping</c>): the Functions timer trigger runs it; standalone, a background task does.</summary>
public sealed class KestrelCloudHousekeepingOptions
{
    /// <summary>Shortest standalone housekeeping interval.</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Finished instances (completed, failed, terminated) created longer ago than this are purged. Zero keeps them forever.
    /// </summary>
    /// <value>The default value is 30 days.</value>
    public TimeSpan CompletedInstanceRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Azure Storage store only: instances unchanged for this long that still hold visible messages or an outbox are
    /// woken again, in case their wake-up message was lost.
    /// </summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan SweepMinimumAge { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Standalone with the Azure Storage store only: how often housekeeping runs. Under the Functions host the
    /// <c>Housekeeping</c> timer trigger's schedule decides; standalone with SQLite or memory nothing purges automatically.
    /// </summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>Signed approval links (<c>KestrelCloud:Approvals</c>).</summary>
public sealed class KestrelCloudApprovalsOptions
{
    /// <summary>Shortest signing key accepted from configuration, in UTF-8 bytes.</summary>
    public const int MinSigningKeyLength = 32;

    /// <summary>
    /// The HMAC key that signs approval links (its UTF-8 bytes). Every process of one deployment must use the same key.
    /// Empty: a random key is generated at first start into <c>approval-signing-key</c> in the data folder (owner-only).
    /// </summary>
    /// <value>The default value is empty (generate a key file).</value>
    public string? SigningKey { get; set; }
}

/// <summary>The agents HTTP API (<c>KestrelCloud:AgentsApi</c>).</summary>
public sealed class KestrelCloudAgentsApiOptions
{
    /// <summary>How long <c>POST /api/agents/{name}/messages?mode=wait</c> waits when the caller names no <c>wait</c>.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan DefaultMessageWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait a caller may ask for; longer <c>wait</c> values are capped to it.</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan MaxMessageWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often an idle event stream sends a comment line, so proxies keep the connection open.</summary>
    /// <value>The default value is 15 seconds.</value>
    public TimeSpan EventStreamHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The longest an event stream waits before reading the log again. Events appended in this process wake it at
    /// once; this bounds the delay for events appended by other processes.
    /// </summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan EventStreamPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The errors of these settings (empty when valid).</summary>
    public IEnumerable<string> Validate()
    {
        if (this.DefaultMessageWait < TimeSpan.Zero)
        {
            yield return $"KestrelCloud:AgentsApi:DefaultMessageWait must not be negative; it is {this.DefaultMessageWait}.";
        }

        if (this.MaxMessageWait < TimeSpan.Zero || this.MaxMessageWait > TimeSpan.FromHours(1))
        {
            yield return $"KestrelCloud:AgentsApi:MaxMessageWait must be between 00:00:00 and 01:00:00; it is {this.MaxMessageWait}.";
        }
        else if (this.DefaultMessageWait > this.MaxMessageWait)
        {
            yield return $"KestrelCloud:AgentsApi:DefaultMessageWait ({this.DefaultMessageWait}) must not be longer than MaxMessageWait ({this.MaxMessageWait}).";
        }

        if (this.EventStreamHeartbeatInterval < TimeSpan.FromSeconds(1) || this.EventStreamHeartbeatInterval > TimeSpan.FromMinutes(10))
        {
            yield return $"KestrelCloud:AgentsApi:EventStreamHeartbeatInterval must be between 00:00:01 and 00:10:00; it is {this.EventStreamHeartbeatInterval}.";
        }

        if (this.EventStreamPollInterval < TimeSpan.FromMilliseconds(10) || this.EventStreamPollInterval > TimeSpan.FromMinutes(1))
        {
            yield return $"KestrelCloud:AgentsApi:EventStreamPollInterval must be between 00:00:00.010 and 00:01:00; it is {this.EventStreamPollInterval}.";
        }
    }
}
