using System.Text.RegularExpressions;
using Azure.Core;
using Azure.Storage.Blobs;

namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// Settings of <see cref="AzureStorageOrchestrationStore"/> (configuration section <c>KestrelCloud:Durable:AzureStorage</c>).
/// Connect with <see cref="ConnectionString"/>, or with <see cref="BlobServiceUri"/> + <see cref="QueueServiceUri"/> +
/// <see cref="Credential"/>. Validated once when the store is built; all errors are reported together.
/// </summary>
public sealed partial class AzureStorageStoreOptions
{
    /// <summary>The longest a queue message can be hidden (the service's limit).</summary>
    public static readonly TimeSpan MaxQueueVisibilityTimeout = TimeSpan.FromDays(7);

    /// <summary>
    /// A storage connection string, for example <c>UseDevelopmentStorage=true</c> for Azurite. When set, the
    /// service URIs and the credential are not used.
    /// </summary>
    /// <value>The default value is null.</value>
    public string? ConnectionString { get; set; }

    /// <summary>The blob service endpoint, for example <c>https://account.blob.core.windows.net</c>; with <see cref="Credential"/>.</summary>
    /// <value>The default value is null.</value>
    public Uri? BlobServiceUri { get; set; }

    /// <summary>The queue service endpoint, for example <c>https://account.queue.core.windows.net</c>; with <see cref="Credential"/>.</summary>
    /// <value>The default value is null.</value>
    public Uri? QueueServiceUri { get; set; }

    /// <summary>The identity used with the service URIs (for example a managed identity).</summary>
    /// <value>The default value is null.</value>
    public TokenCredential? Credential { get; set; }

    /// <summary>
    /// Isolates deployments that share a storage account: every container and queue name starts with it
    /// (<c>{hub}-instances</c>, <c>{hub}-history</c>, <c>{hub}-payloads</c>, <c>{hub}-control</c>,
    /// <c>{hub}-activities</c>, <c>{hub}-poison</c>). 3 to 45 lowercase letters or digits.
    /// </summary>
    /// <value>The default value is <c>kestrelcloud</c>.</value>
    public string TaskHubName { get; set; } = "kestrelcloud";

    /// <summary>
    /// How many times a queue message may be dequeued without being completed. A message dequeued more
    /// often goes to the <c>{hub}-poison</c> queue: for a control message the instance fails with the reason
    /// in its status; for an activity the orchestration receives a failure it can handle. When the Functions
    /// host drives the queues, set its <c>maxDequeueCount</c> above this so the store handles poison first.
    /// </summary>
    /// <value>The default value is 5.</value>
    public int MaxDequeueCount { get; set; } = 5;

    /// <summary>How long an activity's lock (its lease) is extended while its result is recorded (after the lock is checked).</summary>
    /// <value>The default value is 1 minute.</value>
    public TimeSpan CompletionVisibilityTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The longest a wake-up message is delayed. Timers due later are re-scheduled in steps of at most this
    /// (queue messages cannot be hidden for more than 7 days). Lower values wake long timers more often.
    /// Zero never hides a wake-up: one received before it is due goes straight back to the queue. That is only
    /// for tests that drive a manual <see cref="TimeProvider"/>, which the queue's own clock does not follow;
    /// it costs a queue round trip per early wake-up on every poll.
    /// </summary>
    /// <value>The default value is 6 days.</value>
    public TimeSpan MaxWakeUpDelay { get; set; } = TimeSpan.FromDays(6);

    /// <summary>How many times a document write that lost an ETag race is re-read and retried before the operation gives up.</summary>
    /// <value>The default value is 30.</value>
    public int MaxConflictRetries { get; set; } = 30;

    /// <summary>
    /// How many ids of applied messages each instance remembers, so a message delivered again (an outbox
    /// re-dispatched after a crash) is not applied twice.
    /// </summary>
    /// <value>The default value is 1,000.</value>
    public int AppliedMessageIdsToKeep { get; set; } = 1_000;

    /// <summary>
    /// Queue messages larger than this (UTF-8 bytes of JSON, before base64) are stored in the
    /// <c>{hub}-payloads</c> container and referenced. A queue message holds 64 KiB of base64 text (48 KiB of data).
    /// </summary>
    /// <value>The default value is 45,056 (44 KiB); at most 48,000.</value>
    public int MaxInlineMessageSizeBytes { get; set; } = 45_056;

    /// <summary>
    /// A client for the blob service of these settings: <see cref="ConnectionString"/> when set, else
    /// <see cref="BlobServiceUri"/> with <see cref="Credential"/>. For validated options (<see cref="Validate"/>).
    /// </summary>
    public BlobServiceClient CreateBlobServiceClient() =>
        string.IsNullOrWhiteSpace(this.ConnectionString)
            ? new BlobServiceClient(this.BlobServiceUri!, this.Credential!)
            : new BlobServiceClient(this.ConnectionString);

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        bool hasConnectionString = !string.IsNullOrWhiteSpace(this.ConnectionString);
        bool hasUris = this.BlobServiceUri is not null || this.QueueServiceUri is not null || this.Credential is not null;
        if (!hasConnectionString && !hasUris)
        {
            errors.Add("Set ConnectionString (for example 'UseDevelopmentStorage=true' for Azurite), or BlobServiceUri, QueueServiceUri and Credential.");
        }
        else if (!hasConnectionString)
        {
            if (this.BlobServiceUri is null)
            {
                errors.Add("The value for BlobServiceUri must be set when ConnectionString is not (for example https://account.blob.core.windows.net).");
            }

            if (this.QueueServiceUri is null)
            {
                errors.Add("The value for QueueServiceUri must be set when ConnectionString is not (for example https://account.queue.core.windows.net).");
            }

            if (this.Credential is null)
            {
                errors.Add("The value for Credential must be set when ConnectionString is not (for example a ManagedIdentityCredential).");
            }
        }

        if (this.TaskHubName is null || !TaskHubNamePattern().IsMatch(this.TaskHubName))
        {
            errors.Add($"The value for TaskHubName ('{this.TaskHubName}') must be 3 to 45 lowercase letters or digits: it prefixes container and queue names.");
        }

        if (this.MaxDequeueCount < 1)
        {
            errors.Add($"The value for MaxDequeueCount must be at least 1; it is {this.MaxDequeueCount}.");
        }

        if (this.CompletionVisibilityTimeout < TimeSpan.FromSeconds(1) || this.CompletionVisibilityTimeout > MaxQueueVisibilityTimeout)
        {
            errors.Add($"The value for CompletionVisibilityTimeout must be between 1 second and 7 days; it is {this.CompletionVisibilityTimeout}.");
        }

        if (this.MaxWakeUpDelay < TimeSpan.Zero || this.MaxWakeUpDelay > MaxQueueVisibilityTimeout)
        {
            errors.Add($"The value for MaxWakeUpDelay must be between zero and 7 days (the queue's visibility limit); it is {this.MaxWakeUpDelay}.");
        }

        if (this.MaxConflictRetries < 1)
        {
            errors.Add($"The value for MaxConflictRetries must be at least 1; it is {this.MaxConflictRetries}.");
        }

        if (this.AppliedMessageIdsToKeep < 0)
        {
            errors.Add($"The value for AppliedMessageIdsToKeep must not be negative; it is {this.AppliedMessageIdsToKeep}.");
        }

        if (this.MaxInlineMessageSizeBytes is < 1024 or > 48_000)
        {
            errors.Add($"The value for MaxInlineMessageSizeBytes must be between 1024 and 48000 (a queue message holds 48 KiB before base64); it is {this.MaxInlineMessageSizeBytes}.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid AzureStorageStoreOptions: " + string.Join(" ", errors));
        }
    }

    [GeneratedRegex("^[a-z0-9]{3,45}$", RegexOptions.CultureInvariant)]
    private static partial Regex TaskHubNamePattern();
}
