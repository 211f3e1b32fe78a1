using Microsoft.Extensions.Hosting;

namespace Kestrel.Cloud.Functions.Security;

/// <summary>
/// Resolves the <see cref="ApiKeyRing"/> at start-up (its constructor loads or generates the keys), so the key file
/// exists and its path is logged before the first request rather than at it.
/// </summary>
internal sealed class ApiKeyRingInitializer : IHostedService
{
    public ApiKeyRingInitializer(ApiKeyRing ring) => _ = ring;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
