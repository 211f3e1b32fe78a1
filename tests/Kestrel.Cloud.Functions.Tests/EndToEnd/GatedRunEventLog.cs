using Kestrel.Cloud.Agents.Runs;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.EndToEnd;

/// <summary>
/// Wraps the app's <see cref="IRunEventLog"/>: an append holding an event of the gated type (default
/// <c>run.finished</c>) is written at once (readers see it) but does not return until <see cref="Release"/>, so the
/// activity appending it stays unfinished: e.g. the window between the last event and the engine's completion, held
/// open for a test.
/// </summary>
public sealed class GatedRunEventLog : IRunEventLog
{
    private readonly IRunEventLog inner;
    private readonly string gatedType;
    private readonly TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public GatedRunEventLog(IRunEventLog inner, string gatedType = RunEventTypes.Finished)
    {
        this.inner = inner;
        this.gatedType = gatedType;
    }

    /// <summary>Lets held appends return.</summary>
    public void Release() => this.gate.TrySetResult();

    /// <summary>Replaces the registered <see cref="IRunEventLog"/> with a wrapper gating <c>run.finished</c>.</summary>
    public static void Register(IServiceCollection services) => Register(services, RunEventTypes.Finished);

    /// <summary>Replaces the registered <see cref="IRunEventLog"/> with a wrapper gating <paramref name="gatedType"/>.</summary>
    public static void Register(IServiceCollection services, string gatedType)
    {
        ServiceDescriptor original = services.Last(d => d.ServiceType == typeof(IRunEventLog));
        services.Remove(original);
        services.AddSingleton(sp => new GatedRunEventLog(original switch
        {
            { ImplementationInstance: IRunEventLog instance } => instance,
            { ImplementationFactory: { } factory } => (IRunEventLog)factory(sp),
            _ => (IRunEventLog)ActivatorUtilities.CreateInstance(sp, original.ImplementationType!),
        }, gatedType));
        services.AddSingleton<IRunEventLog>(sp => sp.GetRequiredService<GatedRunEventLog>());
    }

    public async Task<long> AppendAsync(string runId, IReadOnlyList<NewRunEvent> events, CancellationToken cancellationToken = default)
    {
        long last = await this.inner.AppendAsync(runId, events, cancellationToken);
        if (events.Any(e => e.Type == this.gatedType))
        {
            await this.gate.Task.WaitAsync(EndToEndHost.Timeout, cancellationToken);
        }

        return last;
    }

    public Task<IReadOnlyList<RunEvent>> ReadAsync(string runId, long afterSequence, int maxCount = 1000, CancellationToken cancellationToken = default) =>
        this.inner.ReadAsync(runId, afterSequence, maxCount, cancellationToken);

    public Task WaitAsync(string runId, long afterSequence, TimeSpan maxWait, CancellationToken cancellationToken = default) =>
        this.inner.WaitAsync(runId, afterSequence, maxWait, cancellationToken);

    public Task<bool> DeleteAsync(string runId, CancellationToken cancellationToken = default) =>
        this.inner.DeleteAsync(runId, cancellationToken);
}
