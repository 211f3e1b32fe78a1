namespace Kestrel.Cloud.Durable.AzureStorage;

/// <summary>
/// The token for the storage calls of one fetch. A caller's cancellation (the dispatcher stopping) does not cut a receive
/// or the handling of a message already received: a cut receive can leave a message dequeued on the service but unknown
/// here, hidden until its visibility lapses, and a cut hand-off (re-queue then delete) can do the same. The fetch stops
/// before its next receive instead; the calls in flight are cancelled only <see cref="Grace"/> after the caller's
/// token, so a storage service that does not answer cannot hold shutdown up for long.
/// </summary>
internal sealed class FetchCancellation : IDisposable
{
    /// <summary>How long calls in flight may run on after the caller cancels.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource source = new();
    private readonly CancellationTokenRegistration registration;

    public FetchCancellation(CancellationToken callerToken)
    {
        this.registration = callerToken.Register(static s => ((CancellationTokenSource)s!).CancelAfter(Grace), this.source);
    }

    public CancellationToken Token => this.source.Token;

    public void Dispose()
    {
        this.registration.Dispose();
        this.source.Dispose();
    }
}
