using Kestrel.Cloud.Durable;

namespace Kestrel.Cloud.Functions.Samples;

/// <summary>Registers the samples with the engine.</summary>
public static class SampleRegistration
{
    /// <summary>Adds <see cref="HelloSequence"/> (with <see cref="SayHello"/>) and <see cref="ApprovalWorkflow"/>.</summary>
    public static DurableTaskRegistry AddSamples(this DurableTaskRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return registry
            .AddOrchestrator<HelloSequence>(HelloSequence.Name)
            .AddActivity<SayHello>(SayHello.Name)
            .AddOrchestrator<ApprovalWorkflow>(ApprovalWorkflow.Name);
    }
}
