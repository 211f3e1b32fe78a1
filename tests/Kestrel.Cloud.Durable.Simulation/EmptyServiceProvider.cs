using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>
/// A service provider with no services but scopes, enough for a worker whose orchestrators and activities are
/// registered as factories (the simulation needs no container package).
/// </summary>
public sealed class EmptyServiceProvider : IServiceProvider, IServiceScopeFactory, IServiceScope
{
    /// <summary>The shared instance.</summary>
    public static EmptyServiceProvider Instance { get; } = new();

    /// <inheritdoc/>
    public IServiceProvider ServiceProvider => this;

    /// <inheritdoc/>
    public object? GetService(Type serviceType) =>
        serviceType == typeof(IServiceScopeFactory) || serviceType == typeof(IServiceProvider) ? this : null;

    /// <inheritdoc/>
    public IServiceScope CreateScope() => this;

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
