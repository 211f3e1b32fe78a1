using System.Globalization;

namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>An instance a program creates, with the outcome a fault-free run produces.</summary>
/// <param name="InstanceId">The instance id.</param>
/// <param name="ParentInstanceId">The parent for a sub-orchestration; null for a top-level instance.</param>
/// <param name="Program">Its program.</param>
/// <param name="ExpectedTrace">What it observes, one entry per observation, in order: its output when it completes,
/// inside its failure message when the program fails (<see cref="SimOracle.FailureMessage"/>).</param>
public sealed record ExpectedInstance(string InstanceId, string? ParentInstanceId, SimProgram Program, IReadOnlyList<string> ExpectedTrace)
{
    /// <summary>How many times its parent starts it (more than 1 for a failing sub-orchestration with a retry policy); each start ends once.</summary>
    public int Starts { get; init; } = 1;

    /// <summary>Started by a call with a retry policy (the simulator does not terminate or suspend it).</summary>
    public bool Retried { get; init; }

    /// <summary>The most times its parent may start it: the attempts of its retry policy (1 without one).</summary>
    public int MaxStarts { get; init; } = 1;

    /// <summary>The terminal status of a fault-free run.</summary>
    public OrchestrationRuntimeStatus ExpectedStatus => this.Program.FailsAtEnd ? OrchestrationRuntimeStatus.Failed : OrchestrationRuntimeStatus.Completed;
}

/// <summary>An external event the simulator raises.</summary>
/// <param name="InstanceId">The instance it is for.</param>
/// <param name="Name">The event name.</param>
/// <param name="Payload">The payload (a string).</param>
/// <param name="Mode">When it is raised.</param>
/// <param name="RaiseAfterSeconds">For <see cref="SimWaitMode.Raised"/>: seconds after the simulation start;
/// for <see cref="SimWaitMode.RaisedAfterObservations"/>: the observations (custom status) the instance must have reached.</param>
public sealed record PlannedEvent(string InstanceId, string Name, string Payload, SimWaitMode Mode, int RaiseAfterSeconds);

/// <summary>
/// The shared vocabulary of the interpreter and the oracle (keys, ids, trace entries), and the oracle itself:
/// what a program must output, computed directly from the program without running the engine.
/// </summary>
public static class SimOracle
{
    /// <summary>The key of a step in one iteration (unique within its instance).</summary>
    public static string CallKey(SimStep step, int iteration) => $"{step.Key}.i{iteration.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The instance id of a sub-orchestration step.</summary>
    public static string ChildInstanceId(string parentInstanceId, SimStep step, int iteration) => $"{parentInstanceId}:{CallKey(step, iteration)}";

    /// <summary>The event name a wait step waits for.</summary>
    public static string EventName(SimStep step, int iteration) => "ev" + CallKey(step, iteration);

    /// <summary>The payload the simulator raises for an event.</summary>
    public static string EventPayload(string instanceId, string eventName) => $"p:{instanceId}/{eventName}";

    /// <summary>The payload of the <paramref name="n"/>th event of a <see cref="SimStepKind.WaitForEventTwice"/> step.</summary>
    public static string NumberedPayload(string instanceId, string eventName, int n) => $"{EventPayload(instanceId, eventName)}#{n.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The activity's result: a deterministic function of its input.</summary>
    public static long ActivityResult(string key, int value)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in key)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return (value * 7919L) + (long)(hash % 10007UL);
    }

    /// <summary>Trace entry of an activity call.</summary>
    public static string ActivityEntry(string key, long result) => $"a:{key}={result.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Trace entry of a failed activity call (after all its attempts).</summary>
    public static string ActivityFailedEntry(string key) => $"x:{key}";

    /// <summary>Trace entry of a fired timer.</summary>
    public static string TimerEntry(string key) => $"t:{key}";

    /// <summary>Trace entry of a received event.</summary>
    public static string EventEntry(string key, string? payload) => $"e:{key}={payload}";

    /// <summary>Trace entry of an event wait that timed out.</summary>
    public static string TimeoutEntry(string key) => $"timeout:{key}";

    /// <summary>Trace entry of a sub-orchestration's output.</summary>
    public static string SubEntry(string key, IEnumerable<string> childTrace) => $"s:{key}[{string.Join(",", childTrace)}]";

    /// <summary>Trace entry of a sub-orchestration that failed.</summary>
    public static string SubFailedEntry(string key) => $"sf:{key}";

    /// <summary>The event name of a <see cref="SimStepKind.SendToSelf"/> step.</summary>
    public static string SelfEventName(SimStep step, int iteration) => "self" + CallKey(step, iteration);

    /// <summary>The event name the execution of <paramref name="iteration"/> (1 or more) receives from the previous one (<see cref="SimProgram.CarryEvent"/>).</summary>
    public static string CarryEventName(int iteration) => $"carry.i{iteration.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The event a parent sends its child (<see cref="SimStep.SendsEvent"/>).</summary>
    public const string ParentEventName = "fromParent";

    /// <summary>The message of the exception a failing program throws at its end: its whole trace, so the trace is checked even though it fails.</summary>
    public static string FailureMessage(IEnumerable<string> trace) => "Simulated orchestration failure after: " + string.Join(" | ", trace);

    /// <summary>The key of an activity trace entry ("a:" or "x:"), or null for other entries.</summary>
    public static string? ActivityKeyOf(string entry)
    {
        if (entry.StartsWith("x:", StringComparison.Ordinal))
        {
            return entry[2..];
        }

        if (entry.StartsWith("a:", StringComparison.Ordinal))
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            return eq < 0 ? entry[2..] : entry[2..eq];
        }

        return null;
    }

    /// <summary>
    /// Every instance the program of <paramref name="instanceId"/> creates (itself first), with its expected outcome.
    /// A sub-orchestration in <paramref name="terminated"/> was cut short (terminated, or failed as poison): its parent
    /// observes a failure instead of its output.
    /// </summary>
    public static IReadOnlyList<ExpectedInstance> Instances(string instanceId, SimProgram program, IReadOnlySet<string>? terminated = null)
    {
        var all = new List<ExpectedInstance>();
        Collect(instanceId, null, program, all, events: null, terminated);
        return all;
    }

    /// <summary>Every event the simulator must raise for the instance tree rooted at <paramref name="instanceId"/>.</summary>
    public static IReadOnlyList<PlannedEvent> Events(string instanceId, SimProgram program)
    {
        var events = new List<PlannedEvent>();
        Collect(instanceId, null, program, new List<ExpectedInstance>(), events, terminated: null);
        return events;
    }

    private static List<string> Collect(
        string instanceId, string? parentId, SimProgram program, List<ExpectedInstance> all, List<PlannedEvent>? events, IReadOnlySet<string>? terminated)
    {
        int index = all.Count;
        all.Add(null!); // parent first; filled in below
        var trace = new List<string>();
        string SubOutcome(SimStep sub, int iteration)
        {
            string childId = ChildInstanceId(instanceId, sub, iteration);
            int first = all.Count;
            List<string> childTrace = Collect(childId, instanceId, sub.Child!, all, events, terminated);
            if (sub.Attempts > 1)
            {
                all[first] = all[first] with { Retried = true, Starts = sub.Child!.FailsAtEnd ? sub.Attempts : 1, MaxStarts = sub.Attempts };
            }

            return sub.Child!.FailsAtEnd || (terminated?.Contains(childId) ?? false) ? SubFailedEntry(CallKey(sub, iteration)) : SubEntry(CallKey(sub, iteration), childTrace);
        }

        if (program.WaitsForParentEvent)
        {
            trace.Add(EventEntry(ParentEventName, EventPayload(instanceId, ParentEventName)));
        }

        for (int iteration = 0; iteration <= program.Loops; iteration++)
        {
            if (program.CarryEvent && iteration > 0)
            {
                string carried = CarryEventName(iteration);
                trace.Add(EventEntry(carried, EventPayload(instanceId, carried)));
            }

            foreach (SimStep step in program.Steps)
            {
                string key = CallKey(step, iteration);
                switch (step.Kind)
                {
                    case SimStepKind.Activity:
                        trace.Add(Activity(step, iteration));
                        break;
                    case SimStepKind.FanOut:
                        foreach (SimStep branch in step.Branches ?? [])
                        {
                            trace.Add(branch.Kind == SimStepKind.SubOrchestration ? SubOutcome(branch, iteration) : Activity(branch, iteration));
                        }

                        break;
                    case SimStepKind.Timer:
                        trace.Add(TimerEntry(key));
                        break;
                    case SimStepKind.WaitForEvent:
                        string name = EventName(step, iteration);
                        string payload = EventPayload(instanceId, name);
                        trace.Add(step.WaitMode == SimWaitMode.NeverRaised ? TimeoutEntry(key) : EventEntry(key, payload));
                        if (step.WaitMode != SimWaitMode.NeverRaised)
                        {
                            events?.Add(new PlannedEvent(instanceId, name, payload, step.WaitMode, step.RaiseAfterSeconds));
                        }

                        break;
                    case SimStepKind.SubOrchestration:
                        trace.Add(SubOutcome(step, iteration));
                        break;
                    case SimStepKind.WaitForEventTwice:
                        string twice = EventName(step, iteration);
                        for (int n = 1; n <= 2; n++)
                        {
                            string numbered = NumberedPayload(instanceId, twice, n);
                            trace.Add(EventEntry(key, numbered));
                            events?.Add(new PlannedEvent(instanceId, twice, numbered, SimWaitMode.Raised, step.RaiseAfterSeconds + ((n - 1) * step.DelaySeconds)));
                        }

                        break;
                    case SimStepKind.WaitAfterTimeout:
                        string late = EventName(step, iteration);
                        trace.Add(TimeoutEntry(key));
                        events?.Add(new PlannedEvent(instanceId, late, EventPayload(instanceId, late), SimWaitMode.RaisedAfterObservations, trace.Count));
                        trace.Add(EventEntry(key, EventPayload(instanceId, late)));
                        break;
                    case SimStepKind.SendToSelf:
                        trace.Add(EventEntry(key, EventPayload(instanceId, SelfEventName(step, iteration))));
                        break;
                }
            }
        }

        all[index] = new ExpectedInstance(instanceId, parentId, program, trace);
        return trace;
    }

    private static string Activity(SimStep step, int iteration)
    {
        string key = CallKey(step, iteration);
        return step.Fails ? ActivityFailedEntry(key) : ActivityEntry(key, ActivityResult(key, step.Value));
    }
}
