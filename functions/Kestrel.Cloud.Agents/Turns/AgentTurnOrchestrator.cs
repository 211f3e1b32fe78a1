using System.Text.Json;
using Kestrel.Cloud.Agents.Providers.Usage;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Durable;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>
/// One agent turn (<c>AgentTurn</c>): load context (compacting old history when over budget) → call the model →
/// for each tool call the policy allows, denies or asks (ask: approval request with signed links, then
/// <c>WaitForExternalEvent</c> with the approval timeout; a timeout is a denial) → run the tools (read-only calls of a
/// step in parallel, mutating ones in order; <c>spawn</c> as a sub-orchestration) → feed results back → repeat until a
/// final answer or <c>max_iterations</c> → save the session → append <c>run.finished</c>. A <c>cancel</c> event ends the
/// run at its next wait, as Cancelled, keeping what it produced. Deterministic: all I/O is in the activities.
/// </summary>
public sealed class AgentTurnOrchestrator : TaskOrchestrator<TurnInput, TurnResult>
{
    /// <summary>Exception types whose messages are safe to show to the caller when an activity fails with them.</summary>
    private static readonly string[] SafeErrorTypes =
    {
        "Kestrel.Cloud.Agents.Providers.ProviderException",
        "Kestrel.Cloud.Agents.Providers.ContextWindowExceededException",
        "Kestrel.Cloud.Agents.Providers.ProviderNotConfiguredException",
        "Kestrel.Cloud.Agents.Definitions.AgentWorkspaceException",
        "Kestrel.Cloud.Agents.Definitions.AgentDefinitionException",
        "Kestrel.Cloud.Agents.Turns.TurnException",
    };

    /// <inheritdoc/>
    public override async Task<TurnResult> RunAsync(TaskOrchestrationContext context, TurnInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var run = new TurnRun(context, input);
        return await run.ExecuteAsync();
    }

    /// <summary>The message a failed task may show: its own for our designated types, else a generic one.</summary>
    internal static string SafeMessage(TaskFailureDetails details, string what)
    {
        for (TaskFailureDetails? f = details; f is not null; f = f.InnerFailure)
        {
            if (SafeErrorTypes.Contains(f.ErrorType, StringComparer.Ordinal))
            {
                return f.ErrorMessage;
            }
        }

        return $"{what} failed with an internal error ({details.ErrorType}); the details are in the server log.";
    }

    /// <summary>The custom status is kept under this size (the engine's limit is 16 KiB by default).</summary>
    private const int MaxStatusSizeBytes = 12 * 1024;

    private sealed class TurnCancelledException(string? reason) : Exception(reason ?? "cancelled");

    /// <summary>The state of one execution of the orchestrator (rebuilt identically on every replay).</summary>
    private sealed class TurnRun
    {
        private readonly TaskOrchestrationContext context;
        private readonly TurnInput input;
        private readonly Task<CancelRequest> cancel;
        private readonly List<TurnMessage> produced = new();
        private readonly List<TurnPendingApproval> pending = new();
        private readonly List<string> activeChildren = new();
        private readonly Dictionary<string, RunToolResult> outcomes = new(StringComparer.Ordinal);
        private readonly List<string> mirrors;
        private IReadOnlyList<TurnMessage> history = Array.Empty<TurnMessage>();
        private TurnContext turn = null!;
        private ProviderUsage usage = ProviderUsage.Zero;
        private int step;
        private int? streamingStep;
        private int spawnCount;

        public TurnRun(TaskOrchestrationContext context, TurnInput input)
        {
            this.context = context;
            this.input = input;
            this.mirrors = input.MirrorRunIds?.ToList() ?? new List<string>();
            this.cancel = context.WaitForExternalEvent<CancelRequest>(AgentTurnNames.CancelEvent);
        }

        public async Task<TurnResult> ExecuteAsync()
        {
            this.produced.Add(new TurnMessage("user", this.input.Message));
            try
            {
                this.SetStatus("running");
                this.turn = await this.Race(this.context.CallActivityAsync<TurnContext>(AgentTurnNames.LoadContext, new LoadContextInput(this.input)));
                this.history = this.turn.History;
                if (this.turn.NeedsCompaction && this.input.SessionKey is { } sessionKey)
                {
                    CompactSessionResult compacted = await this.Race(this.context.CallActivityAsync<CompactSessionResult>(
                        AgentTurnNames.CompactSession, new CompactSessionInput(this.input.RunId, this.input.Agent, sessionKey)));
                    this.history = compacted.History;
                    this.usage += compacted.Usage;
                }

                string? finalText = null;
                bool limitReached = true;
                for (this.step = 1; this.step <= this.turn.MaxIterations; this.step++)
                {
                    var messages = this.history.Concat(this.produced).ToList();
                    int size = TurnMessages.SizeBytes(messages);
                    if (size > this.turn.MaxTurnMessagesSizeBytes)
                    {
                        throw new TurnException(
                            $"The conversation has grown to {size} bytes, over the limit of {this.turn.MaxTurnMessagesSizeBytes} (KestrelCloud:Agents:MaxTurnMessagesSizeBytes); start a new session or raise the limit.");
                    }

                    this.SetStatus("running");
                    this.streamingStep = this.step;
                    CallModelResult answer = await this.Race(this.context.CallActivityAsync<CallModelResult>(
                        AgentTurnNames.CallModel,
                        new CallModelInput(this.input.RunId, this.input.Agent, this.input.PolicyAgent, this.step, this.turn.SystemPrompt, messages, this.usage)));
                    this.streamingStep = null;
                    this.usage = answer.TotalUsage;
                    this.produced.Add(new TurnMessage(
                        "assistant",
                        answer.Text,
                        answer.ToolCalls.Count == 0 ? null : answer.ToolCalls.Select(c => new TurnToolCall(c.CallId, c.Tool, c.ArgumentsJson)).ToList()));
                    if (answer.ToolCalls.Count == 0)
                    {
                        finalText = answer.Text;
                        limitReached = false;
                        break;
                    }

                    IReadOnlyList<TurnMessage> results = await this.RunToolCallsAsync(answer.ToolCalls);
                    this.produced.AddRange(results);
                }

                int iterations = Math.Min(this.step, this.turn.MaxIterations);
                if (limitReached)
                {
                    string last = this.produced.LastOrDefault(m => m.Role == "assistant")?.Text ?? string.Empty;
                    string notice = $"I stopped because this turn reached the agent's limit of {this.turn.MaxIterations} model calls (max_iterations) before reaching a final answer. Ask me to continue, or raise max_iterations in AGENT.md.";
                    finalText = string.IsNullOrWhiteSpace(last) ? notice : last.TrimEnd() + "\n\n" + notice;
                    this.produced.Add(new TurnMessage("assistant", notice));
                }

                this.SetStatus("finishing");
                // One activity saves the session and then appends run.finished.
                var finish = new FinishInput(this.input.RunId, "completed", finalText ?? string.Empty, null, this.usage, iterations, limitReached);
                await this.context.CallActivityAsync<SaveSessionResult>(
                    AgentTurnNames.SaveSession, new SaveSessionInput(this.input.RunId, this.input.Agent, this.input.SessionKey, this.produced, null, finish));
                return new TurnResult(finish.Status, finish.Text, null, this.usage, iterations, limitReached);
            }
            catch (TurnCancelledException)
            {
                foreach (string child in this.activeChildren)
                {
                    this.context.SendEvent(child, AgentTurnNames.CancelEvent, new CancelRequest("The parent run was cancelled."));
                }

                this.pending.Clear();
                this.SetStatus("finishing");
                var kept = CloseDanglingCalls(this.produced, this.outcomes);
                SaveSessionResult saved = await this.context.CallActivityAsync<SaveSessionResult>(
                    AgentTurnNames.SaveSession, new SaveSessionInput(this.input.RunId, this.input.Agent, this.input.SessionKey, kept, this.streamingStep));
                var texts = this.produced.Where(m => m.Role == "assistant" && !string.IsNullOrWhiteSpace(m.Text)).Select(m => m.Text!).ToList();
                if (!string.IsNullOrEmpty(saved.RecoveredText))
                {
                    texts.Add(saved.RecoveredText);
                }

                return await this.FinishAsync("cancelled", string.Join("\n\n", texts), null, Math.Max(0, Math.Min(this.step, this.turn?.MaxIterations ?? 0)), false);
            }
            catch (TaskFailedException ex)
            {
                return await this.FailAsync(SafeMessage(ex.FailureDetails, ex.TaskName));
            }
            catch (TurnException ex)
            {
                return await this.FailAsync(ex.Message);
            }
        }

        /// <summary>The messages with a result for every tool call: the one it had when the run was cancelled, or a note that it did not finish.</summary>
        private static List<TurnMessage> CloseDanglingCalls(List<TurnMessage> messages, Dictionary<string, RunToolResult> finished)
        {
            var kept = new List<TurnMessage>(messages);
            var answered = messages.Where(m => m.Role == "tool").Select(m => m.CallId).ToHashSet(StringComparer.Ordinal);
            foreach (TurnToolCall call in messages.Where(m => m.Role == "assistant").SelectMany(m => m.ToolCalls ?? Array.Empty<TurnToolCall>()).ToList())
            {
                if (answered.Contains(call.CallId))
                {
                    continue;
                }

                if (finished.TryGetValue(call.CallId, out RunToolResult? result))
                {
                    kept.Add(new TurnMessage("tool", result.Text, CallId: call.CallId, IsError: result.IsError));
                }
                else
                {
                    kept.Add(new TurnMessage("tool", "The run was cancelled before this tool call finished; it did not run to completion.", CallId: call.CallId, IsError: true));
                }
            }

            return kept;
        }

        private async Task<TurnResult> FailAsync(string error)
        {
            this.SetStatus("finishing");
            return await this.FinishAsync("failed", null, error, Math.Max(0, Math.Min(this.step, this.turn?.MaxIterations ?? 0)), false);
        }

        private async Task<TurnResult> FinishAsync(string status, string? text, string? error, int iterations, bool limitReached)
        {
            await this.context.CallActivityAsync(AgentTurnNames.Finish, new FinishInput(this.input.RunId, status, text, error, this.usage, iterations, limitReached));
            return new TurnResult(status, text, error, this.usage, iterations, limitReached);
        }

        /// <summary>Awaits <paramref name="task"/> unless the cancel event arrives first.</summary>
        private async Task<T> Race<T>(Task<T> task)
        {
            Task winner = await Task.WhenAny(task, this.cancel);
            if (winner == this.cancel && !task.IsCompleted)
            {
                throw new TurnCancelledException(this.cancel.Result?.Reason);
            }

            return await task;
        }

        private async Task Race(Task task)
        {
            Task winner = await Task.WhenAny(task, this.cancel);
            if (winner == this.cancel && !task.IsCompleted)
            {
                throw new TurnCancelledException(this.cancel.Result?.Reason);
            }

            await task;
        }

        private void SetStatus(string phase)
        {
            var status = new TurnStatus(phase, this.step, this.usage, this.pending.ToList(), this.activeChildren.ToList());
            if (JsonSerializer.SerializeToUtf8Bytes(status).Length > MaxStatusSizeBytes)
            {
                // Many pending calls with large arguments: keep every call (so each can be decided), drop the arguments.
                JsonElement omitted = JsonSerializer.SerializeToElement(new { omitted = "the arguments are in the run's approval.requested event" });
                status = status with { PendingApprovals = this.pending.Select(p => p with { Arguments = omitted }).ToList() };
            }

            this.context.SetCustomStatus(status);
        }

        private async Task<IReadOnlyList<TurnMessage>> RunToolCallsAsync(IReadOnlyList<ToolCallPlan> calls)
        {
            Dictionary<string, RunToolResult> outcomes = this.outcomes;
            outcomes.Clear();
            var events = new List<NewRunEvent>();

            foreach (ToolCallPlan call in calls.Where(c => c.Decision == "deny"))
            {
                string message = $"The call was denied: {call.Reason} Do not retry it as is; adapt your approach or tell the user.";
                outcomes[call.CallId] = new RunToolResult(message, true, false);
                events.Add(NewRunEvent.Create($"s{this.step}/call/{call.CallId}/denied", RunEventTypes.ApprovalDenied, new { callId = call.CallId, by = "policy", reason = call.Reason }));
                events.Add(this.ResultEvent(call, message, true));
            }

            if (events.Count > 0)
            {
                await this.Race(this.context.CallActivityAsync(AgentTurnNames.AppendEvents, new AppendEventsInput(this.input.RunId, events)));
            }

            var asks = calls.Where(c => c.Decision == "ask").ToList();
            if (asks.Count > 0)
            {
                await this.AskAsync(asks, outcomes);
            }

            // Consecutive read-only calls run together; a call that changes something runs alone, in order.
            var runnable = calls.Where(c => !outcomes.ContainsKey(c.CallId)).ToList();
            int i = 0;
            while (i < runnable.Count)
            {
                if (runnable[i].IsReadOnly)
                {
                    var group = runnable.Skip(i).TakeWhile(c => c.IsReadOnly).ToList();
                    var tasks = group.Select(this.RunOneAsync).ToList();
                    RunToolResult[] results = await this.Race(Task.WhenAll(tasks));
                    for (int j = 0; j < group.Count; j++)
                    {
                        outcomes[group[j].CallId] = results[j];
                    }

                    i += group.Count;
                }
                else
                {
                    outcomes[runnable[i].CallId] = await this.Race(this.RunOneAsync(runnable[i]));
                    i++;
                }
            }

            return calls.Select(c => new TurnMessage("tool", outcomes[c.CallId].Text, CallId: c.CallId, IsError: outcomes[c.CallId].IsError)).ToList();
        }

        private async Task AskAsync(List<ToolCallPlan> asks, Dictionary<string, RunToolResult> outcomes)
        {
            DateTime expiresAt = this.context.CurrentUtcDateTime.Add(this.turn.ApprovalTimeout);
            var expires = new DateTimeOffset(DateTime.SpecifyKind(expiresAt, DateTimeKind.Utc));
            await this.Race(this.context.CallActivityAsync(
                AgentTurnNames.RequestApprovals, new RequestApprovalsInput(this.input.RunId, this.mirrors, this.step, asks, expires)));

            // The timers end at the expiry the request (and its signed links) announced, not ApprovalTimeout after the
            // request activity finished: that activity may take long (a retry after a worker died).
            TimeSpan remaining = expiresAt - this.context.CurrentUtcDateTime;
            if (remaining < TimeSpan.Zero)
            {
                remaining = TimeSpan.Zero;
            }

            var waits = new List<(ToolCallPlan Call, Task<ApprovalDecision> Wait)>();
            foreach (ToolCallPlan call in asks)
            {
                this.pending.Add(new TurnPendingApproval(call.CallId, call.Tool, ArgumentsForStatus(call.ArgumentsJson), expires));
                waits.Add((call, this.context.WaitForExternalEvent<ApprovalDecision>(AgentTurnNames.ApprovalEvent(call.CallId), remaining)));
            }

            this.SetStatus("waitingForApproval");
            foreach ((ToolCallPlan call, Task<ApprovalDecision> wait) in waits)
            {
                NewRunEvent decisionEvent;
                NewRunEvent? resultEvent = null;
                try
                {
                    ApprovalDecision decision = await this.Race(wait);
                    if (decision?.Approved == true)
                    {
                        decisionEvent = NewRunEvent.Create($"s{this.step}/call/{call.CallId}/granted", RunEventTypes.ApprovalGranted, new { callId = call.CallId, by = decision.By, reason = decision.Reason });
                    }
                    else
                    {
                        string who = decision?.By is { Length: > 0 } by ? by : "a human";
                        string message = $"The call was denied by {who}{(decision?.Reason is { Length: > 0 } r ? $": {r}" : ".")} Do not retry it as is; adapt your approach or tell the user.";
                        outcomes[call.CallId] = new RunToolResult(message, true, false);
                        decisionEvent = NewRunEvent.Create($"s{this.step}/call/{call.CallId}/denied", RunEventTypes.ApprovalDenied, new { callId = call.CallId, by = decision?.By, reason = decision?.Reason });
                        resultEvent = this.ResultEvent(call, message, true);
                    }
                }
                catch (TaskCanceledException)
                {
                    string reason = $"No decision within {Durations.Format(this.turn.ApprovalTimeout)}; an approval that times out counts as a denial.";
                    string message = $"The call was not run: {reason} Do not retry it as is; adapt your approach or tell the user.";
                    outcomes[call.CallId] = new RunToolResult(message, true, false);
                    decisionEvent = NewRunEvent.Create($"s{this.step}/call/{call.CallId}/timedOut", RunEventTypes.ApprovalTimedOut, new { callId = call.CallId, reason });
                    resultEvent = this.ResultEvent(call, message, true);
                }

                this.pending.RemoveAll(p => p.CallId == call.CallId);
                this.SetStatus(this.pending.Count > 0 ? "waitingForApproval" : "running");
                await this.Race(this.context.CallActivityAsync(
                    AgentTurnNames.AppendEvents, new AppendEventsInput(this.input.RunId, new[] { decisionEvent }, this.mirrors)));
                if (resultEvent is not null)
                {
                    await this.Race(this.context.CallActivityAsync(AgentTurnNames.AppendEvents, new AppendEventsInput(this.input.RunId, new[] { resultEvent })));
                }
            }
        }

        private Task<RunToolResult> RunOneAsync(ToolCallPlan call) => call.IsSpawn
            ? this.SpawnAsync(call)
            : this.RunToolActivityAsync(call);

        private async Task<RunToolResult> RunToolActivityAsync(ToolCallPlan call)
        {
            try
            {
                return await this.context.CallActivityAsync<RunToolResult>(
                    AgentTurnNames.RunTool,
                    new RunToolInput(this.input.RunId, this.input.Agent, this.step, call.CallId, call.Tool, call.ArgumentsJson, this.turn.ToolTimeout));
            }
            catch (TaskFailedException ex)
            {
                return new RunToolResult(SafeMessage(ex.FailureDetails, $"The tool {call.Tool}"), true, false);
            }
        }

        private async Task<RunToolResult> SpawnAsync(ToolCallPlan call)
        {
            (string? task, string? agent, string? error) = SpawnTool.ParseArguments(call.ArgumentsJson);
            if (error is null && this.input.Depth >= this.turn.MaxSpawnDepth)
            {
                error = $"spawn is refused: this run is already {this.input.Depth} sub-agent levels deep, the most allowed (KestrelCloud:Agents:MaxSpawnDepth = {this.turn.MaxSpawnDepth}). Do the task yourself.";
            }

            RunToolResult result;
            if (error is not null)
            {
                result = new RunToolResult(error, true, false);
            }
            else
            {
                string childId = $"{this.input.RunId}.s{++this.spawnCount}";
                var childInput = new TurnInput(
                    childId,
                    agent ?? this.input.Agent,
                    task!,
                    SessionKey: null,
                    ParentRunId: this.input.RunId,
                    Depth: this.input.Depth + 1,
                    PolicyAgent: this.input.PolicyAgent ?? this.input.Agent,
                    MirrorRunIds: new[] { this.input.RunId }.Concat(this.mirrors).ToList());
                this.activeChildren.Add(childId);
                this.SetStatus(this.pending.Count > 0 ? "waitingForApproval" : "running");
                try
                {
                    TurnResult child = await this.context.CallSubOrchestratorAsync<TurnResult>(
                        AgentTurnNames.Orchestration, childInput, new SubOrchestrationOptions(instanceId: childId));
                    this.usage += child.Usage;
                    result = child.Status == "completed"
                        ? new RunToolResult(child.FinalText ?? string.Empty, false, false)
                        : new RunToolResult($"The sub-agent run {childId} ended {child.Status}: {child.Error ?? child.FinalText}", true, false);
                }
                catch (TaskFailedException ex)
                {
                    result = new RunToolResult($"The sub-agent run {childId} failed: {SafeMessage(ex.FailureDetails, "The sub-agent run")}", true, false);
                }

                this.activeChildren.Remove(childId);
                this.SetStatus(this.pending.Count > 0 ? "waitingForApproval" : "running");
            }

            await this.context.CallActivityAsync(AgentTurnNames.AppendEvents, new AppendEventsInput(this.input.RunId, new[] { this.ResultEvent(call, result.Text, result.IsError) }));
            return result;
        }

        private NewRunEvent ResultEvent(ToolCallPlan call, string text, bool isError)
        {
            (string shown, bool truncated) = Display(text);
            return NewRunEvent.Create($"s{this.step}/call/{call.CallId}/result", RunEventTypes.ToolResult, new { callId = call.CallId, tool = call.Tool, isError, text = shown, truncated });
        }

        private (string Text, bool Truncated) Display(string text) => TurnEvents.Truncate(text, this.turn.ToolResultDisplayMaxChars);

        private static JsonElement ArgumentsForStatus(string argumentsJson) => TurnArguments.ForDisplay(argumentsJson, 2048);
    }
}

/// <summary>A turn cannot go on; the message is safe to show to the caller.</summary>
public sealed class TurnException(string message) : Exception(message);
