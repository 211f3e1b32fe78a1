namespace Kestrel.Cloud.Durable.Replay;

/// <summary>
/// Runs orchestrator code and its continuations on the thread that executes the current step, one at a
/// time and in order, so a step is deterministic. A continuation queued from any other thread means the
/// orchestrator awaited something that is not durable (Task.Delay, Task.Run, I/O); that marks the
/// executor as poisoned and the continuation is never run.
/// </summary>
internal sealed class OrchestrationTaskScheduler : TaskScheduler
{
    private readonly Queue<Task> ready = new();
    private int stepThreadId = -1;

    /// <summary>True once a continuation arrived from a foreign thread.</summary>
    public bool ForeignContinuationDetected { get; private set; }

    /// <summary>Binds the scheduler to the calling thread for the duration of a step.</summary>
    public void EnterStep() => this.stepThreadId = Environment.CurrentManagedThreadId;

    /// <summary>Unbinds the scheduler; anything queued afterwards is foreign.</summary>
    public void ExitStep() => this.stepThreadId = -1;

    /// <summary>Runs queued work until none is left. <paramref name="maxTasks"/> bounds a runaway loop.</summary>
    public void Pump(int maxTasks)
    {
        int executed = 0;
        while (this.ready.Count > 0)
        {
            if (++executed > maxTasks)
            {
                throw new InvalidOperationException(
                    $"The orchestrator ran more than {maxTasks} continuations in one step without waiting for durable work. " +
                    "Check for an unbounded loop in orchestrator code.");
            }

            Task next = this.ready.Dequeue();
            this.TryExecuteTask(next);
        }
    }

    /// <inheritdoc/>
    protected override void QueueTask(Task task)
    {
        if (Environment.CurrentManagedThreadId != this.stepThreadId)
        {
            // Completed by a timer, the thread pool or I/O: not durable. Never run it.
            this.ForeignContinuationDetected = true;
            return;
        }

        this.ready.Enqueue(task);
    }

    /// <inheritdoc/>
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    /// <inheritdoc/>
    protected override IEnumerable<Task>? GetScheduledTasks() => this.ready.ToArray();
}
