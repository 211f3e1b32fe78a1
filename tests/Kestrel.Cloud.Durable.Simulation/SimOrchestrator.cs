namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>
/// The one orchestrator every generated program runs on: it interprets the <see cref="SimProgram"/> in its
/// input and returns everything it observed (activity results, timers, events, sub-orchestration outputs),
/// one entry per observation, so the simulator can check each was observed exactly once. After each step its
/// custom status is the number of observations so far.
/// </summary>
public sealed class SimOrchestrator : TaskOrchestrator<SimInput, List<string>>
{
    /// <summary>The registered orchestrator name.</summary>
    public const string Name = "SimProgram";

    /// <summary>The registered activity name.</summary>
    public const string ActivityName = "SimActivity";

    /// <summary>A registry with the interpreter and the activity, which records every execution in <paramref name="executions"/>.</summary>
    public static DurableTaskRegistry CreateRegistry(ActivityExecutionLog executions)
    {
        ArgumentNullException.ThrowIfNull(executions);
        var orchestrator = new SimOrchestrator();
        return new DurableTaskRegistry()
            .AddOrchestrator(Name, _ => orchestrator)
            .AddActivityFunc<SimActivityInput, long>(ActivityName, (context, input) =>
            {
                executions.Record(context.InstanceId, input.Key);
                if (input.Fails)
                {
                    throw new InvalidOperationException($"Simulated failure of activity call '{input.Key}'.");
                }

                return SimOracle.ActivityResult(input.Key, input.Value);
            });
    }

    /// <inheritdoc/>
    public override async Task<List<string>> RunAsync(TaskOrchestrationContext context, SimInput input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var trace = new List<string>(input.Trace ?? []);
        SimProgram program = input.Program;
        if (program.WaitsForParentEvent && input.Iteration == 0)
        {
            trace.Add(SimOracle.EventEntry(SimOracle.ParentEventName, await context.WaitForExternalEvent<string>(SimOracle.ParentEventName)));
        }

        if (program.CarryEvent && input.Iteration > 0)
        {
            string carried = SimOracle.CarryEventName(input.Iteration);
            trace.Add(SimOracle.EventEntry(carried, await context.WaitForExternalEvent<string>(carried)));
        }

        foreach (SimStep step in program.Steps)
        {
            await RunStepAsync(context, step, input.Iteration, trace);
            context.SetCustomStatus(trace.Count);
        }

        if (input.Iteration < program.Loops)
        {
            if (program.CarryEvent)
            {
                string next = SimOracle.CarryEventName(input.Iteration + 1);
                context.SendEvent(context.InstanceId, next, SimOracle.EventPayload(context.InstanceId, next));
            }

            context.ContinueAsNew(input with { Iteration = input.Iteration + 1, Trace = trace }, preserveUnprocessedEvents: true);
            return trace;
        }

        if (program.FailsAtEnd)
        {
            throw new InvalidOperationException(SimOracle.FailureMessage(trace));
        }

        return trace;
    }

    private static async Task RunStepAsync(TaskOrchestrationContext context, SimStep step, int iteration, List<string> trace)
    {
        string key = SimOracle.CallKey(step, iteration);
        switch (step.Kind)
        {
            case SimStepKind.Activity:
                trace.Add(await CallActivityAsync(context, step, iteration));
                break;

            case SimStepKind.FanOut:
                var branches = (step.Branches ?? [])
                    .Select(b => b.Kind == SimStepKind.SubOrchestration ? CallSubAsync(context, b, iteration) : CallActivityAsync(context, b, iteration))
                    .ToList();
                trace.AddRange(await Task.WhenAll(branches));
                break;

            case SimStepKind.Timer:
                await context.CreateTimer(TimeSpan.FromSeconds(step.DelaySeconds));
                trace.Add(SimOracle.TimerEntry(key));
                break;

            case SimStepKind.WaitForEvent:
                string name = SimOracle.EventName(step, iteration);
                if (step.WaitMode == SimWaitMode.Raised)
                {
                    trace.Add(SimOracle.EventEntry(key, await context.WaitForExternalEvent<string>(name)));
                    break;
                }

                try
                {
                    string payload = await context.WaitForExternalEvent<string>(name, TimeSpan.FromSeconds(step.DelaySeconds));
                    trace.Add(SimOracle.EventEntry(key, payload));
                }
                catch (TaskCanceledException)
                {
                    trace.Add(SimOracle.TimeoutEntry(key));
                }

                break;

            case SimStepKind.SubOrchestration:
                trace.Add(await CallSubAsync(context, step, iteration));
                break;

            case SimStepKind.WaitForEventTwice:
                string twice = SimOracle.EventName(step, iteration);
                trace.Add(SimOracle.EventEntry(key, await context.WaitForExternalEvent<string>(twice)));
                trace.Add(SimOracle.EventEntry(key, await context.WaitForExternalEvent<string>(twice)));
                break;

            case SimStepKind.WaitAfterTimeout:
                string late = SimOracle.EventName(step, iteration);
                try
                {
                    trace.Add(SimOracle.EventEntry(key, await context.WaitForExternalEvent<string>(late, TimeSpan.FromSeconds(step.DelaySeconds))));
                }
                catch (TaskCanceledException)
                {
                    trace.Add(SimOracle.TimeoutEntry(key));
                }

                context.SetCustomStatus(trace.Count); // the simulator raises the event once it sees this
                trace.Add(SimOracle.EventEntry(key, await context.WaitForExternalEvent<string>(late)));
                break;

            case SimStepKind.SendToSelf:
                string selfEvent = SimOracle.SelfEventName(step, iteration);
                context.SendEvent(context.InstanceId, selfEvent, SimOracle.EventPayload(context.InstanceId, selfEvent));
                trace.Add(SimOracle.EventEntry(key, await context.WaitForExternalEvent<string>(selfEvent)));
                break;
        }
    }

    private static async Task<string> CallActivityAsync(TaskOrchestrationContext context, SimStep step, int iteration)
    {
        string key = SimOracle.CallKey(step, iteration);
        TaskOptions? options = step.Attempts > 1 ? new TaskOptions(new RetryPolicy(step.Attempts, TimeSpan.FromSeconds(step.DelaySeconds))) : null;
        try
        {
            long result = await context.CallActivityAsync<long>(ActivityName, new SimActivityInput(key, step.Value, step.Fails), options);
            return SimOracle.ActivityEntry(key, result);
        }
        catch (TaskFailedException)
        {
            return SimOracle.ActivityFailedEntry(key);
        }
    }

    private static async Task<string> CallSubAsync(TaskOrchestrationContext context, SimStep step, int iteration)
    {
        string key = SimOracle.CallKey(step, iteration);
        string childId = SimOracle.ChildInstanceId(context.InstanceId, step, iteration);
        RetryPolicy? retry = step.Attempts > 1 ? new RetryPolicy(step.Attempts, TimeSpan.FromSeconds(step.DelaySeconds)) : null;
        try
        {
            Task<List<string>> call = context.CallSubOrchestratorAsync<List<string>>(
                Name, new SimInput(step.Child!, 0, []), new SubOrchestrationOptions(retry, childId));
            if (step.SendsEvent)
            {
                // Recorded after the child's start in the same step: the start must be routed first.
                context.SendEvent(childId, SimOracle.ParentEventName, SimOracle.EventPayload(childId, SimOracle.ParentEventName));
            }

            return SimOracle.SubEntry(key, await call);
        }
        catch (TaskFailedException)
        {
            return SimOracle.SubFailedEntry(key);
        }
    }
}

/// <summary>The side table of activity executions: the activity records every run here (at-least-once check).</summary>
public sealed class ActivityExecutionLog
{
    private readonly Dictionary<string, int> executions = new(StringComparer.Ordinal);

    /// <summary>Total executions, re-runs included.</summary>
    public int TotalExecutions { get; private set; }

    /// <summary>Distinct calls executed at least once.</summary>
    public int DistinctCalls => this.executions.Count;

    /// <summary>Records one execution of call <paramref name="key"/> of <paramref name="instanceId"/>.</summary>
    public void Record(string instanceId, string key)
    {
        string id = $"{instanceId}/{key}";
        this.executions[id] = this.executions.GetValueOrDefault(id) + 1;
        this.TotalExecutions++;
    }

    /// <summary>How many times the call ran.</summary>
    public int ExecutionsOf(string instanceId, string key) => this.executions.GetValueOrDefault($"{instanceId}/{key}");
}
