using System.Globalization;
using System.Text.Json;
using Kestrel.Cloud.Durable.History;
using Kestrel.Cloud.Durable.Storage;
using Kestrel.Cloud.Durable.Worker;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>
/// A deterministic simulation of the durable engine (TigerBeetle VOPR / FoundationDB style). One seed drives
/// everything through one <see cref="System.Random"/>: the generated programs, which simulated process runs which
/// work item when, and every fault. There are no threads and no wall clock: the simulator calls
/// <see cref="DurableTaskWorker"/> itself over a <see cref="ManualTimeProvider"/>.
/// <para>
/// A run has a safety phase (faults on: crashes before and after commits, store errors, duplicate and reordered
/// and delayed deliveries, clock jumps that make two workers race for one lock, work items held in flight) and a
/// liveness phase (faults off: everything must finish within <see cref="SimulationOptions.MaxLivenessActions"/>).
/// Then it checks the invariants:
/// </para>
/// <list type="bullet">
/// <item>every started instance reaches exactly one terminal state (one terminal transition among the commits);</item>
/// <item>its output equals the fault-free output computed from its program (<see cref="SimOracle"/>), so the
/// orchestrator observed every activity result, timer, event and sub-orchestration output exactly once;</item>
/// <item>no activity result is lost: every TaskScheduled in the final history has exactly one TaskCompleted/TaskFailed,
/// and every observed activity actually ran (the activity's side table);</item>
/// <item>no orchestration step commits twice (instance, execution, history length before the commit are unique);</item>
/// <item>a commit refused for a lost lock changes nothing; the store's history equals the history rebuilt from the commits.</item>
/// </list>
/// </summary>
public sealed class Simulator
{
    private readonly Func<TimeProvider, IOrchestrationStore> storeFactory;
    private readonly SimulationOptions options;

    /// <summary>Creates a simulator over stores made by <paramref name="storeFactory"/> (one fresh store per seed, on the simulation's clock).</summary>
    public Simulator(Func<TimeProvider, IOrchestrationStore> storeFactory, SimulationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(storeFactory);
        this.storeFactory = storeFactory;
        this.options = options ?? new SimulationOptions();
        this.options.Validate();
    }

    /// <summary>Runs one seed and reports the violated invariants (never throws for a violation).</summary>
    public async Task<SimulationResult> RunAsync(int seed, CancellationToken cancellationToken = default)
    {
        var clock = new ManualTimeProvider();
        IOrchestrationStore store = this.storeFactory(clock);
        try
        {
            await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
            var run = new Run(this.options, seed, clock, store, cancellationToken);
            return await run.ExecuteAsync().ConfigureAwait(false);
        }
        finally
        {
            if (store is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
            }
            else if (store is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
    }

    private sealed class SimProcess
    {
        public required int Index { get; init; }

        public required int CacheSize { get; init; }

        public required FaultInjectingStore Store { get; set; }

        public required DurableTaskWorker Worker { get; set; }

        public List<object> Held { get; } = new();
    }

    private sealed class PendingStart
    {
        public required string InstanceId { get; init; }

        public required SimProgram Program { get; init; }

        /// <summary>When the client creates the instance.</summary>
        public required DateTime CreateAt { get; init; }

        /// <summary>A scheduled start (StartAt): the start message is invisible until then.</summary>
        public DateTime? VisibleAt { get; init; }

        public bool Done { get; set; }
    }

    private sealed class PendingEvent
    {
        public required PlannedEvent Event { get; init; }

        public required DateTime DueAt { get; init; }

        public bool Done { get; set; }
    }

    private enum ControlState
    {
        Pending,
        AwaitingSuspended,
        ResumeScheduled,
        Done,
    }

    /// <summary>A terminate, or a suspend followed by a resume once the instance is seen suspended.</summary>
    private sealed class PendingControl
    {
        public required string InstanceId { get; init; }

        public required bool Terminate { get; init; }

        /// <summary>When to send it; null means <see cref="AfterCreation"/> after the instance is first seen to exist.</summary>
        public DateTime? DueAt { get; set; }

        public TimeSpan AfterCreation { get; init; }

        public required TimeSpan ResumeDelay { get; init; }

        public ControlState State { get; set; }

        public DateTime ResumeAt { get; set; }
    }

    private sealed class Run
    {
        /// <summary>The reason the simulator terminates instances with; it becomes their output.</summary>
        private const string TerminateReason = "sim-terminate";

        /// <summary>The error type of an instance the engine failed as poison.</summary>
        private const string PoisonErrorType = "Kestrel.Cloud.Durable.PoisonWorkItem";
        private const int MaxRecentActions = 40;
        private static readonly TimeSpan MinClockJump = TimeSpan.FromSeconds(31);
        private static readonly TimeSpan MaxClockJump = TimeSpan.FromMinutes(20);

        private readonly SimulationOptions options;
        private readonly int seed;
        private readonly ManualTimeProvider clock;
        private readonly IOrchestrationStore store;
        private readonly CancellationToken cancellationToken;
        private readonly Random random;
        private readonly DateTime start;
        private readonly FaultContext faults;
        private readonly CommitLedger ledger = new();
        private readonly ActivityExecutionLog executions = new();
        private readonly DurableTaskRegistry registry;
        private readonly DurableTaskOptions engineOptions;
        private readonly List<SimProcess> processes = new();
        private readonly List<PendingStart> starts = new();
        private readonly List<PendingEvent> events = new();
        private readonly List<PendingControl> controls = new();
        private readonly HashSet<string> terminateSent = new(StringComparer.Ordinal);
        private readonly HashSet<string> cutShort = new(StringComparer.Ordinal);
        private readonly List<ExpectedInstance> expected = new();
        private readonly HashSet<string> existing = new(StringComparer.Ordinal);
        private readonly List<string> violations = new();
        private readonly Queue<string> recentActions = new();
        private ulong fingerprint = 14695981039346656037UL;
        private int eventCounter;
        private int restarts;
        private int safetyActions;
        private int livenessActions;
        private int terminatedInstances;
        private int poisonedInstances;

        public Run(SimulationOptions options, int seed, ManualTimeProvider clock, IOrchestrationStore store, CancellationToken cancellationToken)
        {
            this.options = options;
            this.seed = seed;
            this.clock = clock;
            this.store = store;
            this.cancellationToken = cancellationToken;
            this.random = new Random(seed);
            this.start = clock.GetUtcNow().UtcDateTime;
            this.registry = SimOrchestrator.CreateRegistry(this.executions);
            this.engineOptions = new DurableTaskOptions
            {
                MaxOrchestrationDeliveryAttempts = options.MaxOrchestrationDeliveryAttempts,
            };

            FaultPlan plan = options.InjectFaults ? FaultPlan.FromSeed(this.random, options.EnabledFaults) : FaultPlan.None;
            this.faults = new FaultContext(this.random, plan, this.ledger);

            int processCount = this.random.Next(1, options.MaxProcesses + 1);
            for (int i = 0; i < processCount; i++)
            {
                int cacheSize = this.random.Next(3) switch { 0 => 0, 1 => 1, _ => 100 };
                var processStore = new FaultInjectingStore(store, this.faults);
                this.processes.Add(new SimProcess { Index = i, CacheSize = cacheSize, Store = processStore, Worker = this.NewWorker(processStore, cacheSize) });
            }

            int instanceCount = this.random.Next(1, options.MaxTopLevelInstances + 1);
            for (int i = 0; i < instanceCount; i++)
            {
                string id = $"sim{seed.ToString(CultureInfo.InvariantCulture)}-{i.ToString(CultureInfo.InvariantCulture)}";
                SimProgram program = ProgramGenerator.Generate(this.random, options.MaxSubOrchestrationDepth);
                int startAfterSeconds = this.random.Next(2) == 0 ? 0 : this.random.Next(0, 1800);
                bool scheduled = startAfterSeconds > 0 && this.random.Next(2) == 0;
                this.starts.Add(new PendingStart
                {
                    InstanceId = id,
                    Program = program,
                    CreateAt = scheduled ? this.start : this.start.AddSeconds(startAfterSeconds),
                    VisibleAt = scheduled ? this.start.AddSeconds(startAfterSeconds) : null,
                });
                this.expected.AddRange(SimOracle.Instances(id, program));
                foreach (PlannedEvent e in SimOracle.Events(id, program))
                {
                    this.events.Add(new PendingEvent { Event = e, DueAt = this.start.AddSeconds(e.RaiseAfterSeconds) });
                }
            }

            foreach (ExpectedInstance instance in this.expected)
            {
                int control = this.random.Next(100);
                if (control < 20 && !instance.Retried)
                {
                    // Half are sent soon after the instance appears: while its first step may still be in flight or delayed.
                    bool early = this.random.Next(2) == 0;
                    this.controls.Add(new PendingControl
                    {
                        InstanceId = instance.InstanceId,
                        Terminate = control < 8,
                        DueAt = early ? null : this.start.AddSeconds(this.random.Next(0, 3 * 3600)),
                        AfterCreation = TimeSpan.FromMilliseconds(this.random.Next(0, 120_000)),
                        ResumeDelay = TimeSpan.FromSeconds(this.random.Next(1, 3600)),
                    });
                }
            }
        }

        private DateTime Now => this.clock.GetUtcNow().UtcDateTime;

        private FaultPlan Plan => this.faults.Plan;

        public async Task<SimulationResult> ExecuteAsync()
        {
            string planText = this.Plan.ToString();
            try
            {
                await this.SafetyPhaseAsync();
                await this.LivenessPhaseAsync();
                await this.CheckInvariantsAsync();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                this.violations.Add($"The simulation stopped on an unexpected exception: {ex}");
            }

            this.violations.AddRange(this.ledger.Violations);
            return new SimulationResult
            {
                Seed = this.seed,
                Violations = this.violations,
                ReproCommand = SimulationSeeds.ReproCommand(this.seed, this.options.TestProject, this.options.TestFilter),
                FaultPlan = planText,
                Fingerprint = this.fingerprint.ToString("x16", CultureInfo.InvariantCulture),
                LastActions = this.recentActions.ToList(),
                Instances = this.expected.Count,
                SafetyActions = this.safetyActions,
                LivenessActions = this.livenessActions,
                StepCommits = this.ledger.StepCommits,
                ActivityExecutions = this.executions.TotalExecutions,
                DistinctActivityCalls = this.executions.DistinctCalls,
                ProcessRestarts = this.restarts,
                TerminatedInstances = this.terminatedInstances,
                PoisonedInstances = this.poisonedInstances,
                SimulatedTime = this.Now - this.start,
                Faults = this.faults.Counters,
            };
        }

        private async Task SafetyPhaseAsync()
        {
            int idle = 0;
            for (this.safetyActions = 0; this.safetyActions < this.options.MaxSafetyActions; this.safetyActions++)
            {
                this.cancellationToken.ThrowIfCancellationRequested();
                await this.DeliverExternalInputsAsync();
                if (this.Plan.Roll(this.random, FaultKind.ProcessCrash))
                {
                    SimProcess victim = this.processes[this.random.Next(this.processes.Count)];
                    this.faults.Counters.Add(FaultKind.ProcessCrash);
                    this.Note($"crash p{victim.Index} holding {victim.Held.Count}");
                    this.Restart(victim);
                }

                if (this.Plan.Roll(this.random, FaultKind.ClockJump))
                {
                    var jump = TimeSpan.FromMilliseconds(this.random.Next((int)MinClockJump.TotalMilliseconds, (int)MaxClockJump.TotalMilliseconds));
                    this.faults.Counters.Add(FaultKind.ClockJump);
                    this.Note($"jump {jump.TotalSeconds:0}s");
                    this.clock.Advance(jump);
                }

                int roll = this.random.Next(100);
                bool worked;
                if (roll < 10 && this.processes.Any(p => p.Held.Count > 0))
                {
                    worked = await this.ProcessHeldAsync();
                }
                else if (roll < 55)
                {
                    worked = await this.RunOrchestrationAsync(this.RandomProcess(), allowHold: true);
                }
                else if (roll < 95)
                {
                    worked = await this.RunActivityAsync(this.RandomProcess(), allowHold: true);
                }
                else
                {
                    var tick = TimeSpan.FromMilliseconds(this.random.Next(1, 10_000));
                    this.Note($"tick {tick.TotalMilliseconds:0}ms");
                    this.clock.Advance(tick);
                    worked = false;
                }

                if (worked)
                {
                    idle = 0;
                    continue;
                }

                if (++idle < 4)
                {
                    continue;
                }

                idle = 0;
                if (this.processes.Any(p => p.Held.Count > 0))
                {
                    await this.ProcessHeldAsync();
                }
                else if (!await this.AdvanceToNextWakeUpAsync())
                {
                    break; // nothing left to run or to wait for
                }
            }
        }

        private async Task LivenessPhaseAsync()
        {
            this.faults.Plan = FaultPlan.None;
            this.Note("liveness");
            foreach (SimProcess process in this.processes)
            {
                while (process.Held.Count > 0)
                {
                    object item = process.Held[0];
                    process.Held.RemoveAt(0);
                    await this.ProcessAsync(process, item);
                }
            }

            for (this.livenessActions = 0; this.livenessActions < this.options.MaxLivenessActions; this.livenessActions++)
            {
                this.cancellationToken.ThrowIfCancellationRequested();
                await this.DeliverExternalInputsAsync();
                SimProcess process = this.RandomProcess();
                if (await this.RunOrchestrationAsync(process, allowHold: false) || await this.RunActivityAsync(process, allowHold: false))
                {
                    continue;
                }

                if (!await this.AdvanceToNextWakeUpAsync())
                {
                    return;
                }
            }

            this.violations.Add(
                $"Liveness: work was still pending after {this.options.MaxLivenessActions} actions with faults off (SimulationOptions.MaxLivenessActions).");
        }

        private async Task<bool> RunOrchestrationAsync(SimProcess process, bool allowHold)
        {
            OrchestrationWorkItem? item = await process.Store.TryLockNextOrchestrationAsync(this.engineOptions.OrchestrationLockDuration, this.cancellationToken);
            if (item is null)
            {
                return false;
            }

            if (allowHold && process.Held.Count < this.options.MaxHeldWorkItemsPerProcess && this.Plan.Roll(this.random, FaultKind.HeldInFlight))
            {
                this.faults.Counters.Add(FaultKind.HeldInFlight);
                this.Note($"p{process.Index} holds step {item.InstanceId} ({item.Messages.Count} msgs)");
                process.Held.Add(item);
                return true;
            }

            await this.ProcessAsync(process, item);
            return true;
        }

        private async Task<bool> RunActivityAsync(SimProcess process, bool allowHold)
        {
            ActivityWorkItem? item = await process.Store.TryLockNextActivityAsync(this.engineOptions.ActivityLockDuration, this.cancellationToken);
            if (item is null)
            {
                return false;
            }

            if (allowHold && process.Held.Count < this.options.MaxHeldWorkItemsPerProcess && this.Plan.Roll(this.random, FaultKind.HeldInFlight))
            {
                this.faults.Counters.Add(FaultKind.HeldInFlight);
                this.Note($"p{process.Index} holds activity {item.Request.InstanceId}#{item.Request.TaskId}");
                process.Held.Add(item);
                return true;
            }

            await this.ProcessAsync(process, item);
            return true;
        }

        private async Task<bool> ProcessHeldAsync()
        {
            var holders = this.processes.Where(p => p.Held.Count > 0).ToList();
            if (holders.Count == 0)
            {
                return false;
            }

            SimProcess process = holders[this.random.Next(holders.Count)];
            int index = this.random.Next(process.Held.Count);
            object item = process.Held[index];
            process.Held.RemoveAt(index);
            await this.ProcessAsync(process, item);
            return true;
        }

        private async Task ProcessAsync(SimProcess process, object item)
        {
            if (item is OrchestrationWorkItem step)
            {
                this.Note($"p{process.Index} step {step.InstanceId} ({step.Messages.Count} msgs, {step.Instance.Status}, h{step.Instance.HistoryCount})");
                await process.Worker.ProcessOrchestrationAsync(step, this.cancellationToken);
            }
            else
            {
                var activity = (ActivityWorkItem)item;
                this.Note($"p{process.Index} activity {activity.Request.InstanceId}#{activity.Request.TaskId}");
                await process.Worker.ProcessActivityAsync(activity, this.cancellationToken);
            }

            if (process.Store.Crashed)
            {
                this.Note($"p{process.Index} died");
                this.Restart(process);
            }
        }

        private void Restart(SimProcess process)
        {
            process.Store.Crash();
            process.Held.Clear(); // its locks stay until they expire
            process.Store = new FaultInjectingStore(this.store, this.faults);
            process.Worker = this.NewWorker(process.Store, process.CacheSize);
            this.restarts++;
        }

        private DurableTaskWorker NewWorker(IOrchestrationStore processStore, int cacheSize)
        {
            var workerOptions = new DurableTaskOptions
            {
                MaxOrchestrationDeliveryAttempts = this.engineOptions.MaxOrchestrationDeliveryAttempts,
                MaxCachedOrchestrations = cacheSize,
            };
            return new DurableTaskWorker(processStore, this.registry, EmptyServiceProvider.Instance, Options.Create(workerOptions), this.clock);
        }

        private SimProcess RandomProcess() => this.processes[this.random.Next(this.processes.Count)];

        private async Task DeliverExternalInputsAsync()
        {
            DateTime now = this.Now;
            foreach (PendingStart s in this.starts.Where(s => !s.Done && s.CreateAt <= now))
            {
                var started = new ExecutionStartedEvent(SimOrchestrator.Name, this.engineOptions.DataConverter.Serialize(new SimInput(s.Program, 0, [])), $"{s.InstanceId}-e0")
                {
                    Timestamp = now,
                };
                await this.store.CreateInstanceAsync(new OrchestrationMessage(s.InstanceId, started.ExecutionId, started, s.VisibleAt), this.cancellationToken);
                this.existing.Add(s.InstanceId);
                s.Done = true;
                this.Note($"start {s.InstanceId}{(s.VisibleAt is { } at ? $" at +{(at - this.start).TotalSeconds:0}s" : string.Empty)}");
            }

            foreach (PendingEvent e in this.events)
            {
                if (e.Done || (e.Event.Mode == SimWaitMode.Raised && e.DueAt > now) || !await this.ExistsAsync(e.Event.InstanceId))
                {
                    continue;
                }

                if (e.Event.Mode == SimWaitMode.RaisedAfterObservations && !await this.HasObservedAsync(e.Event.InstanceId, e.Event.RaiseAfterSeconds))
                {
                    continue;
                }

                string eventId = $"sim-event-{this.eventCounter++}";
                var raised = new EventRaisedEvent(e.Event.Name, this.engineOptions.DataConverter.Serialize(e.Event.Payload), eventId) { Timestamp = now };
                var message = new OrchestrationMessage(e.Event.InstanceId, null, raised);
                await this.store.SendMessageAsync(message, this.cancellationToken);
                if (this.Plan.Roll(this.random, FaultKind.DuplicateMessage))
                {
                    await this.store.SendMessageAsync(message, this.cancellationToken);
                    this.faults.Counters.Add(FaultKind.DuplicateMessage);
                }

                e.Done = true;
                this.Note($"raise {e.Event.InstanceId} {e.Event.Name}");
            }

            foreach (PendingControl c in this.controls)
            {
                await this.DeliverControlAsync(c, now);
            }
        }

        private async Task DeliverControlAsync(PendingControl c, DateTime now)
        {
            if (c.State == ControlState.Pending && c.DueAt is null && await this.ExistsAsync(c.InstanceId))
            {
                c.DueAt = now + c.AfterCreation;
            }

            switch (c.State)
            {
                case ControlState.Pending when c.DueAt <= now && await this.ExistsAsync(c.InstanceId):
                    HistoryEvent control = c.Terminate
                        ? new ExecutionTerminatedEvent(TerminateReason) { Timestamp = now }
                        : new ExecutionSuspendedEvent("sim-suspend") { Timestamp = now };
                    await this.store.SendMessageAsync(new OrchestrationMessage(c.InstanceId, null, control), this.cancellationToken);
                    if (c.Terminate)
                    {
                        this.terminateSent.Add(c.InstanceId);
                    }

                    c.State = c.Terminate ? ControlState.Done : ControlState.AwaitingSuspended;
                    this.Note($"{(c.Terminate ? "terminate" : "suspend")} {c.InstanceId}");
                    break;

                case ControlState.AwaitingSuspended:
                    // Resume only once the suspension was applied: a resume overtaking its suspend would be ignored.
                    InstanceRecord? record = await this.store.GetInstanceAsync(c.InstanceId, this.cancellationToken);
                    if (record?.Status == OrchestrationRuntimeStatus.Suspended)
                    {
                        c.ResumeAt = now + c.ResumeDelay;
                        c.State = ControlState.ResumeScheduled;
                    }
                    else if (record is null || record.Status.IsTerminal())
                    {
                        c.State = ControlState.Done;
                    }

                    break;

                case ControlState.ResumeScheduled when c.ResumeAt <= now:
                    await this.store.SendMessageAsync(
                        new OrchestrationMessage(c.InstanceId, null, new ExecutionResumedEvent("sim-resume") { Timestamp = now }), this.cancellationToken);
                    c.State = ControlState.Done;
                    this.Note($"resume {c.InstanceId}");
                    break;
            }
        }

        /// <summary>True once the instance's custom status (its observation count) reached <paramref name="observations"/>.</summary>
        private async Task<bool> HasObservedAsync(string instanceId, int observations)
        {
            string? status = (await this.store.GetInstanceAsync(instanceId, this.cancellationToken))?.CustomStatus;
            return status is not null && this.engineOptions.DataConverter.Deserialize<int>(status) >= observations;
        }

        private async Task<bool> ExistsAsync(string instanceId)
        {
            if (this.existing.Contains(instanceId))
            {
                return true;
            }

            if (await this.store.GetInstanceAsync(instanceId, this.cancellationToken) is null)
            {
                return false;
            }

            this.existing.Add(instanceId);
            return true;
        }

        private async Task<bool> AdvanceToNextWakeUpAsync()
        {
            DateTime now = this.Now;
            DateTime? next = null;
            void Consider(DateTime? t)
            {
                if (t is { } value && value > now && (next is null || value < next))
                {
                    next = value;
                }
            }

            Consider(await this.store.GetNextWakeUpTimeAsync(WorkItemKind.Orchestration, this.cancellationToken));
            Consider(await this.store.GetNextWakeUpTimeAsync(WorkItemKind.Activity, this.cancellationToken));
            foreach (PendingStart s in this.starts.Where(s => !s.Done))
            {
                Consider(s.CreateAt);
            }

            foreach (PendingEvent e in this.events.Where(e => !e.Done && e.Event.Mode == SimWaitMode.Raised))
            {
                Consider(e.DueAt);
            }

            foreach (PendingControl c in this.controls)
            {
                Consider(c.State switch
                {
                    ControlState.Pending => c.DueAt,
                    ControlState.ResumeScheduled => c.ResumeAt,
                    _ => null,
                });
            }

            if (next is not { } target)
            {
                return false;
            }

            this.Note($"wait until +{(target - this.start).TotalSeconds:0}s");
            this.clock.SetUtcNow(new DateTimeOffset(target, TimeSpan.Zero));
            return true;
        }

        private async Task CheckInvariantsAsync()
        {
            // The parent of a sub-orchestration cut short (terminated, or failed as poison) observes a failure instead
            // of its output: recompute the expected outcomes from the instances that really ended that way.
            foreach (ExpectedInstance instance in this.expected)
            {
                InstanceRecord? r = await this.store.GetInstanceAsync(instance.InstanceId, this.cancellationToken);
                if ((r?.Status == OrchestrationRuntimeStatus.Terminated && this.terminateSent.Contains(instance.InstanceId)) || IsPoisoned(r))
                {
                    this.cutShort.Add(instance.InstanceId);
                    if (r!.Status == OrchestrationRuntimeStatus.Terminated)
                    {
                        this.terminatedInstances++;
                    }
                    else
                    {
                        this.poisonedInstances++;
                    }
                }
            }

            this.expected.Clear();
            foreach (PendingStart s in this.starts)
            {
                this.expected.AddRange(SimOracle.Instances(s.InstanceId, s.Program, this.cutShort));
            }

            var expectedIds = new HashSet<string>(this.expected.Select(e => e.InstanceId), StringComparer.Ordinal);
            foreach (ExpectedInstance instance in this.expected)
            {
                await this.CheckInstanceAsync(instance);
            }

            string? continuation = null;
            do
            {
                InstanceQueryResult page = await this.store.QueryInstancesAsync(new InstanceQuery { PageSize = 1000, ContinuationToken = continuation }, this.cancellationToken);
                foreach (InstanceRecord r in page.Instances.Where(r => !expectedIds.Contains(r.InstanceId)))
                {
                    this.violations.Add($"Instance '{r.InstanceId}' ({r.Status}) exists but no program created it.");
                }

                continuation = page.ContinuationToken;
            }
            while (continuation is not null);
        }

        private async Task CheckInstanceAsync(ExpectedInstance instance)
        {
            string id = instance.InstanceId;
            InstanceRecord? record = await this.store.GetInstanceAsync(id, this.cancellationToken);
            if (record is null)
            {
                if (!this.AncestorCutShort(instance))
                {
                    this.violations.Add($"Instance '{id}' was never created.");
                }

                return;
            }

            int transitions = this.ledger.TerminalTransitionsOf(id);
            bool parentStopped = this.AncestorCutShort(instance); // a parent cut short stops retrying
            bool poisonRetried = instance.Retried && this.options.MaxOrchestrationDeliveryAttempts < 100; // a poisoned attempt is retried too
            if (transitions != instance.Starts
                && !(parentStopped && transitions >= 1 && transitions < instance.Starts)
                && !(poisonRetried && transitions >= 1 && transitions <= instance.MaxStarts))
            {
                this.violations.Add(
                    $"Instance '{id}' reached a terminal state {transitions} times (expected exactly once per start, {instance.Starts} start(s)); it is {record.Status}.");
            }

            if (IsPoisoned(record))
            {
                // Failed by the engine after too many deliveries: nothing about its output is expected.
            }
            else if (record.Status == OrchestrationRuntimeStatus.Terminated && this.terminateSent.Contains(id))
            {
                string expectedOutput = this.engineOptions.DataConverter.Serialize(TerminateReason)!;
                if (!string.Equals(record.Output, expectedOutput, StringComparison.Ordinal))
                {
                    this.violations.Add($"Instance '{id}' was terminated with output {record.Output} instead of {expectedOutput}.");
                }
            }
            else if (!record.Status.IsTerminal())
            {
                this.violations.Add(
                    $"Liveness: instance '{id}' is still {record.Status} (expected {instance.ExpectedStatus}) although no work is left that could wake it.");
            }
            else if (record.Status != instance.ExpectedStatus)
            {
                this.violations.Add($"Instance '{id}' ended {record.Status} instead of {instance.ExpectedStatus}{(record.Failure is null ? string.Empty : ": " + record.Failure)}.");
            }
            else if (record.Status == OrchestrationRuntimeStatus.Failed)
            {
                string expectedMessage = SimOracle.FailureMessage(instance.ExpectedTrace);
                if (!string.Equals(record.Failure?.ErrorMessage, expectedMessage, StringComparison.Ordinal))
                {
                    this.violations.Add($"Instance '{id}' failed with '{record.Failure?.ErrorMessage}' instead of the fault-free failure '{expectedMessage}'.");
                }
            }
            else
            {
                List<string> actual = this.engineOptions.DataConverter.Deserialize<List<string>>(record.Output) ?? [];
                if (DiffTraces(instance.ExpectedTrace, actual) is { } diff)
                {
                    this.violations.Add($"Instance '{id}' output differs from the fault-free output: {diff}");
                }

                foreach (string key in actual.Select(SimOracle.ActivityKeyOf).OfType<string>())
                {
                    if (this.executions.ExecutionsOf(id, key) == 0)
                    {
                        this.violations.Add($"Instance '{id}' observed a result of activity call '{key}', which never ran.");
                    }
                }
            }

            if (record.Status == instance.ExpectedStatus && !IsPoisoned(record))
            {
                string expectedStatus = this.engineOptions.DataConverter.Serialize(instance.ExpectedTrace.Count)!;
                if (!string.Equals(record.CustomStatus, expectedStatus, StringComparison.Ordinal))
                {
                    this.violations.Add($"Instance '{id}' has custom status {record.CustomStatus ?? "null"} instead of {expectedStatus}.");
                }
            }

            IReadOnlyList<HistoryEvent> history = await this.store.GetHistoryAsync(id, this.cancellationToken);
            this.CheckHistory(id, history, resultsRequired: record.Status != OrchestrationRuntimeStatus.Terminated && !IsPoisoned(record));
            IReadOnlyList<HistoryEvent> rebuilt = this.ledger.HistoryOf(id, record.ExecutionId);
            if (FirstDifference(history, rebuilt) is { } difference)
            {
                this.violations.Add($"Instance '{id}': the store's history differs from the history its commits wrote: {difference}");
            }
        }

        private static bool IsPoisoned(InstanceRecord? record) =>
            record?.Status == OrchestrationRuntimeStatus.Failed && string.Equals(record.Failure?.ErrorType, PoisonErrorType, StringComparison.Ordinal);

        private bool AncestorCutShort(ExpectedInstance instance)
        {
            var byId = this.expected.ToDictionary(e => e.InstanceId, StringComparer.Ordinal);
            for (string? parent = instance.ParentInstanceId; parent is not null; parent = byId[parent].ParentInstanceId)
            {
                if (this.terminateSent.Contains(parent) || this.cutShort.Contains(parent))
                {
                    return true;
                }
            }

            return false;
        }

        private void CheckHistory(string id, IReadOnlyList<HistoryEvent> history, bool resultsRequired)
        {
            var scheduled = history.OfType<TaskScheduledEvent>().Select(e => e.TaskId).ToList();
            var results = history.Select(e => e switch
            {
                TaskCompletedEvent c => (int?)c.TaskScheduledId,
                TaskFailedEvent f => f.TaskScheduledId,
                _ => null,
            }).OfType<int>().ToList();
            foreach (int task in scheduled)
            {
                int n = results.Count(r => r == task);
                if (n > 1 || (n == 0 && resultsRequired))
                {
                    this.violations.Add($"Instance '{id}': activity task #{task} has {n} results in history (expected exactly 1){(n == 0 ? "; its result was lost" : string.Empty)}.");
                }
            }

            foreach (int orphan in results.Where(r => !scheduled.Contains(r)).Distinct())
            {
                this.violations.Add($"Instance '{id}': history has a result for activity task #{orphan}, which was never scheduled.");
            }

            var subs = history.OfType<SubOrchestrationCreatedEvent>().Select(e => e.TaskId).ToList();
            var subResults = history.Select(e => e switch
            {
                SubOrchestrationCompletedEvent c => (int?)c.TaskScheduledId,
                SubOrchestrationFailedEvent f => f.TaskScheduledId,
                _ => null,
            }).OfType<int>().ToList();
            foreach (int task in subs.Where(t => subResults.Count(r => r == t) > 1 || (resultsRequired && subResults.Count(r => r == t) == 0)))
            {
                this.violations.Add($"Instance '{id}': sub-orchestration task #{task} has {subResults.Count(r => r == task)} results in history (expected exactly 1).");
            }

            var timers = history.OfType<TimerCreatedEvent>().Select(e => e.TaskId).ToHashSet();
            foreach (var group in history.OfType<TimerFiredEvent>().GroupBy(e => e.TimerId))
            {
                if (group.Count() > 1 || !timers.Contains(group.Key))
                {
                    this.violations.Add($"Instance '{id}': timer #{group.Key} fired {group.Count()} times in history{(timers.Contains(group.Key) ? string.Empty : " but was never created")}.");
                }
            }

            foreach (var group in history.OfType<EventRaisedEvent>().GroupBy(e => e.EventId, StringComparer.Ordinal).Where(g => g.Count() > 1))
            {
                this.violations.Add($"Instance '{id}': event '{group.First().Name}' (id {group.Key}) was applied {group.Count()} times.");
            }
        }

        private static string? DiffTraces(IReadOnlyList<string> expected, IReadOnlyList<string> actual)
        {
            if (expected.SequenceEqual(actual, StringComparer.Ordinal))
            {
                return null;
            }

            var missing = Subtract(expected, actual);
            var extra = Subtract(actual, expected);
            var parts = new List<string>();
            if (extra.Count > 0)
            {
                parts.Add($"observed but not expected (or observed more than once): [{string.Join("; ", extra)}]");
            }

            if (missing.Count > 0)
            {
                parts.Add($"expected but never observed: [{string.Join("; ", missing)}]");
            }

            if (parts.Count == 0)
            {
                int i = Enumerable.Range(0, expected.Count).First(k => !string.Equals(expected[k], actual[k], StringComparison.Ordinal));
                parts.Add($"same observations in a different order; first difference at #{i}: expected '{expected[i]}', got '{actual[i]}'");
            }

            return string.Join("; ", parts) + ".";
        }

        private static List<string> Subtract(IReadOnlyList<string> from, IReadOnlyList<string> remove)
        {
            var counts = remove.GroupBy(x => x, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            var left = new List<string>();
            foreach (string x in from)
            {
                if (counts.TryGetValue(x, out int n) && n > 0)
                {
                    counts[x] = n - 1;
                }
                else
                {
                    left.Add(x);
                }
            }

            return left;
        }

        private static string? FirstDifference(IReadOnlyList<HistoryEvent> stored, IReadOnlyList<HistoryEvent> rebuilt)
        {
            for (int i = 0; i < Math.Max(stored.Count, rebuilt.Count); i++)
            {
                string? s = i < stored.Count ? Serialize(stored[i]) : null;
                string? r = i < rebuilt.Count ? Serialize(rebuilt[i]) : null;
                if (!string.Equals(s, r, StringComparison.Ordinal))
                {
                    return $"event #{i}: stored {s ?? "(none)"}, committed {r ?? "(none)"} ({stored.Count} stored, {rebuilt.Count} committed).";
                }
            }

            return null;
        }

        private static string Serialize(HistoryEvent e) => JsonSerializer.Serialize(e, JsonDataConverter.DefaultOptions);

        private void Note(string action)
        {
            string entry = $"+{(this.Now - this.start).TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s {action}";
            foreach (char c in entry)
            {
                this.fingerprint = (this.fingerprint ^ c) * 1099511628211UL;
            }

            this.recentActions.Enqueue(entry);
            if (this.recentActions.Count > MaxRecentActions)
            {
                this.recentActions.Dequeue();
            }
        }
    }
}
