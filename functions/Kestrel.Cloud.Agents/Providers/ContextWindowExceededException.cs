namespace Kestrel.Cloud.Agents.Providers;

/// <summary>
/// The prompt did not fit the model's context window (OpenAI <c>context_length_exceeded</c>, Anthropic "prompt is too
/// long", HTTP 413). The turn compacts its history and retries once (the <c>UseContextCompaction</c> middleware).
/// </summary>
public sealed class ContextWindowExceededException : ProviderException
{
    /// <summary>Creates the exception.</summary>
    public ContextWindowExceededException(string message, Exception? innerException = null)
        : base(ProviderFailureKind.ContextWindowExceeded, message, innerException)
    {
    }
}
