namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>What one step of a generated program does.</summary>
public enum SimStepKind
{
    /// <summary>Calls the simulation activity (optionally failing, optionally with a retry policy).</summary>
    Activity,

    /// <summary>Starts every branch (activities and sub-orchestrations) and awaits them with Task.WhenAll.</summary>
    FanOut,

    /// <summary>Waits on a durable timer.</summary>
    Timer,

    /// <summary>Waits for an external event the simulator raises.</summary>
    WaitForEvent,

    /// <summary>Runs a nested program as a sub-orchestration.</summary>
    SubOrchestration,

    /// <summary>Sends an event to its own instance (SendEvent), then waits for it.</summary>
    SendToSelf,

    /// <summary>Waits twice for the same event name; the simulator raises two events with that name <see cref="SimStep.DelaySeconds"/> apart, which must be received in order.</summary>
    WaitForEventTwice,

    /// <summary>
    /// Waits with a timeout for an event that is raised only after the timeout was observed (the simulator watches the
    /// custom status), then waits for it again: the timed-out waiter must be gone, so the second wait receives it.
    /// </summary>
    WaitAfterTimeout,
}

/// <summary>How the simulator treats a <see cref="SimStepKind.WaitForEvent"/> step. Each mode has one possible outcome.</summary>
public enum SimWaitMode
{
    /// <summary>Waits without a timeout; the simulator raises the event at a seed-chosen time (before or after the wait).</summary>
    Raised,

    /// <summary>Waits with a timeout; the event is raised before the instance's first step, so it always wins.</summary>
    RaisedBeforeStart,

    /// <summary>Waits with a timeout; the event is never raised, so the timeout always wins.</summary>
    NeverRaised,

    /// <summary>Raised once the instance's custom status shows a number of observations (see <see cref="SimStepKind.WaitAfterTimeout"/>).</summary>
    RaisedAfterObservations,
}

/// <summary>
/// One step of a generated program. A single record with a <see cref="Kind"/> rather than a class hierarchy,
/// so it round-trips through any <see cref="DataConverter"/> without polymorphism metadata.
/// </summary>
public sealed record SimStep
{
    /// <summary>What the step does.</summary>
    public required SimStepKind Kind { get; init; }

    /// <summary>The step's path in its program ("2", "1b0"); unique within the program.</summary>
    public required string Key { get; init; }

    /// <summary>Activity input value.</summary>
    public int Value { get; init; }

    /// <summary>The activity throws (every time; its outcome is still deterministic).</summary>
    public bool Fails { get; init; }

    /// <summary>Activity or sub-orchestration attempts; more than 1 uses a <see cref="RetryPolicy"/> whose delays are
    /// durable timers (a retried sub-orchestration replaces its failed instance under the same id).</summary>
    public int Attempts { get; init; } = 1;

    /// <summary>Timer delay, wait timeout or retry interval, in seconds.</summary>
    public int DelaySeconds { get; init; }

    /// <summary>For <see cref="SimWaitMode.Raised"/>: seconds after the simulation starts that the event is raised.</summary>
    public int RaiseAfterSeconds { get; init; }

    /// <summary>How an event wait is resolved.</summary>
    public SimWaitMode WaitMode { get; init; }

    /// <summary>Fan-out branches (activities and sub-orchestrations only).</summary>
    public IReadOnlyList<SimStep>? Branches { get; init; }

    /// <summary>The nested program of a sub-orchestration.</summary>
    public SimProgram? Child { get; init; }

    /// <summary>For a sub-orchestration: the parent sends the child an event in the step that starts it.</summary>
    public bool SendsEvent { get; init; }
}

/// <summary>A generated orchestration program: its steps run in order, then it loops with ContinueAsNew <see cref="Loops"/> times.</summary>
/// <param name="Steps">The body.</param>
/// <param name="Loops">How many times the body runs again through ContinueAsNew (0 for once).</param>
public sealed record SimProgram(IReadOnlyList<SimStep> Steps, int Loops)
{
    /// <summary>Before each ContinueAsNew the orchestration sends itself an event that the next execution waits for first.</summary>
    public bool CarryEvent { get; init; }

    /// <summary>After the last execution's body the orchestrator throws: the instance fails with its trace in the message.</summary>
    public bool FailsAtEnd { get; init; }

    /// <summary>The first execution first waits for the event its parent sends (<see cref="SimStep.SendsEvent"/>).</summary>
    public bool WaitsForParentEvent { get; init; }
}

/// <summary>The input of the interpreting orchestrator.</summary>
/// <param name="Program">The program to run.</param>
/// <param name="Iteration">0 for the first execution, then the ContinueAsNew counter.</param>
/// <param name="Trace">What earlier executions observed (carried through ContinueAsNew).</param>
public sealed record SimInput(SimProgram Program, int Iteration, IReadOnlyList<string> Trace);

/// <summary>The input of the simulation activity.</summary>
/// <param name="Key">The call's key (step key and iteration), unique within its instance.</param>
/// <param name="Value">The value the result is computed from.</param>
/// <param name="Fails">Throw instead of returning.</param>
public sealed record SimActivityInput(string Key, int Value, bool Fails);
