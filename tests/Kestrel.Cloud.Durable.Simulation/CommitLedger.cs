using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;

namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>
/// Every successful commit the store accepted, as seen by the <see cref="FaultInjectingStore"/>s of all simulated
/// processes: terminal transitions per instance, step identities (instance, execution, history length before the
/// commit) and each execution's history rebuilt from the commits, to compare with what the store returns.
/// </summary>
public sealed class CommitLedger
{
    private readonly HashSet<(string InstanceId, string ExecutionId, int HistoryCount)> steps = new();
    private readonly Dictionary<string, int> terminalTransitions = new(StringComparer.Ordinal);
    private readonly Dictionary<(string InstanceId, string ExecutionId), List<HistoryEvent>> histories = new();
    private readonly List<string> violations = new();

    /// <summary>Successful step commits (consume-only commits of finished instances excluded).</summary>
    public int StepCommits { get; private set; }

    /// <summary>Invariant violations seen while recording (a step committed twice, a refused commit that changed state).</summary>
    public IReadOnlyList<string> Violations => this.violations;

    /// <summary>Records a commit the store accepted.</summary>
    public void RecordCommit(OrchestrationWorkItem item, OrchestrationStepCommit commit)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(commit);
        InstanceRecord before = item.Instance;
        int expectedCount = (commit.ReplaceHistory ? 0 : before.HistoryCount) + commit.NewEvents.Count;
        if (commit.Instance.HistoryCount != expectedCount)
        {
            this.violations.Add(
                $"A step commit of '{before.InstanceId}' claims history length {commit.Instance.HistoryCount}, but {before.HistoryCount} events " +
                $"{(commit.ReplaceHistory ? "replaced by" : "plus")} {commit.NewEvents.Count} new ones make {expectedCount}.");
        }

        // Suspended -> Pending is legitimate: resumed before the first start.
        if (before.Status == OrchestrationRuntimeStatus.Running && commit.Instance.Status == OrchestrationRuntimeStatus.Pending)
        {
            this.violations.Add(
                $"A step commit moved instance '{before.InstanceId}' from {before.Status} back to Pending (execution '{commit.Instance.ExecutionId}', " +
                $"history length {before.HistoryCount}, messages applied: {Describe(item.Messages)}).");
        }

        if (before.Status == OrchestrationRuntimeStatus.Suspended
            && !commit.NewEvents.Any(e => e is ExecutionResumedEvent)
            && commit.NewEvents.FirstOrDefault(e => e is TaskScheduledEvent or TimerCreatedEvent or SubOrchestrationCreatedEvent or EventSentEvent) is { } action)
        {
            this.violations.Add(
                $"Suspended instance '{before.InstanceId}' ran orchestrator code without being resumed: it recorded {action.Describe()} " +
                $"(messages applied: {Describe(item.Messages)}).");
        }

        if (commit.NewEvents.Count > 0 || commit.ReplaceHistory)
        {
            this.StepCommits++;
            if (!this.steps.Add((before.InstanceId, before.ExecutionId, before.HistoryCount)))
            {
                this.violations.Add(
                    $"Step committed twice: instance '{before.InstanceId}', execution '{before.ExecutionId}', history length {before.HistoryCount} before the commit " +
                    $"(messages applied: {Describe(item.Messages)}).");
            }
        }

        if (!before.Status.IsTerminal() && commit.Instance.Status.IsTerminal())
        {
            this.terminalTransitions[before.InstanceId] = this.TerminalTransitionsOf(before.InstanceId) + 1;
        }

        if (commit.ReplaceHistory)
        {
            this.histories[(before.InstanceId, commit.Instance.ExecutionId)] = new List<HistoryEvent>(commit.NewEvents);
        }
        else if (commit.NewEvents.Count > 0)
        {
            if (!this.histories.TryGetValue((before.InstanceId, before.ExecutionId), out List<HistoryEvent>? history))
            {
                history = new List<HistoryEvent>();
                this.histories.Add((before.InstanceId, before.ExecutionId), history);
            }

            history.AddRange(commit.NewEvents);
        }
    }

    /// <summary>A short description of the messages of a work item, for violation messages.</summary>
    public static string Describe(IEnumerable<OrchestrationMessage> messages) =>
        "[" + string.Join(", ", messages.Select(m => m.Event.Describe() + (m.ExecutionId is null ? string.Empty : "@" + m.ExecutionId[..Math.Min(8, m.ExecutionId.Length)]))) + "]";

    /// <summary>Records a violation found by a store wrapper.</summary>
    public void RecordViolation(string violation) => this.violations.Add(violation);

    /// <summary>How many commits moved the instance from a non-terminal to a terminal status.</summary>
    public int TerminalTransitionsOf(string instanceId) => this.terminalTransitions.GetValueOrDefault(instanceId);

    /// <summary>The history of an execution rebuilt from the commits (empty if none).</summary>
    public IReadOnlyList<HistoryEvent> HistoryOf(string instanceId, string executionId) =>
        this.histories.TryGetValue((instanceId, executionId), out List<HistoryEvent>? h) ? h : [];
}
