namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>Budgets and switches of a simulation run. Every loop and queue of the simulator is bounded by one of these.</summary>
public sealed class SimulationOptions
{
    /// <summary>Most top-level instances per seed (at least 1 is started).</summary>
    /// <value>The default value is 4.</value>
    public int MaxTopLevelInstances { get; init; } = 4;

    /// <summary>Deepest nesting of sub-orchestrations.</summary>
    /// <value>The default value is 2.</value>
    public int MaxSubOrchestrationDepth { get; init; } = 2;

    /// <summary>Most simulated worker processes sharing the store (at least 1).</summary>
    /// <value>The default value is 3.</value>
    public int MaxProcesses { get; init; } = 3;

    /// <summary>Most work items one process holds in flight at once.</summary>
    /// <value>The default value is 3.</value>
    public int MaxHeldWorkItemsPerProcess { get; init; } = 3;

    /// <summary>Actions of the safety phase (faults on); it ends earlier when everything has finished.</summary>
    /// <value>The default value is 600.</value>
    public int MaxSafetyActions { get; init; } = 600;

    /// <summary>Actions the liveness phase (faults off) may take before unfinished work is a violation.</summary>
    /// <value>The default value is 5,000.</value>
    public int MaxLivenessActions { get; init; } = 5_000;

    /// <summary>
    /// The engine's <see cref="DurableTaskOptions.MaxOrchestrationDeliveryAttempts"/>. Reordering and delaying release
    /// work items, which counts as a delivery, so by default the poison limit is out of reach; a low value makes
    /// instances fail as poison, and their parents must still hear of it.
    /// </summary>
    /// <value>The default value is 100,000.</value>
    public int MaxOrchestrationDeliveryAttempts { get; init; } = 100_000;

    /// <summary>Inject faults in the safety phase; false runs the same schedules fault-free.</summary>
    /// <value>The default value is true.</value>
    public bool InjectFaults { get; init; } = true;

    /// <summary>The fault kinds a seed may enable (null for all); narrows a failing seed down to the faults that cause it.</summary>
    /// <value>The default value is null (every kind).</value>
    public IReadOnlySet<FaultKind>? EnabledFaults { get; init; }

    /// <summary>The test project printed in the reproduction command.</summary>
    /// <value>The default value is "tests/Kestrel.Cloud.Durable.Tests".</value>
    public string TestProject { get; init; } = "tests/Kestrel.Cloud.Durable.Tests";

    /// <summary>The test filter printed in the reproduction command.</summary>
    /// <value>The default value is "FullyQualifiedName~Simulation".</value>
    public string TestFilter { get; init; } = "FullyQualifiedName~Simulation";

    /// <summary>Throws one <see cref="ArgumentException"/> listing every invalid value.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        void AtLeast(int value, int min, string name)
        {
            if (value < min)
            {
                errors.Add($"The value for {name} must be at least {min}; it is {value}.");
            }
        }

        AtLeast(this.MaxTopLevelInstances, 1, nameof(this.MaxTopLevelInstances));
        AtLeast(this.MaxSubOrchestrationDepth, 0, nameof(this.MaxSubOrchestrationDepth));
        AtLeast(this.MaxProcesses, 1, nameof(this.MaxProcesses));
        AtLeast(this.MaxHeldWorkItemsPerProcess, 0, nameof(this.MaxHeldWorkItemsPerProcess));
        AtLeast(this.MaxSafetyActions, 0, nameof(this.MaxSafetyActions));
        AtLeast(this.MaxLivenessActions, 1, nameof(this.MaxLivenessActions));
        AtLeast(this.MaxOrchestrationDeliveryAttempts, 1, nameof(this.MaxOrchestrationDeliveryAttempts));
        if (string.IsNullOrWhiteSpace(this.TestProject) || string.IsNullOrWhiteSpace(this.TestFilter))
        {
            errors.Add("The values for TestProject and TestFilter must not be empty: they form the command that replays a failing seed.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid SimulationOptions: " + string.Join(" ", errors));
        }
    }
}
