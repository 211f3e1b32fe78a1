using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Agents.Definitions;
using Kestrel.Cloud.Agents.Policy;
using Kestrel.Cloud.Agents.Providers;
using Kestrel.Cloud.Agents.Providers.Resilience;
using Kestrel.Cloud.Agents.Providers.Usage;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Tools;
using Kestrel.Cloud.Durable;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Turns;

/// <summary>What every turn activity uses, resolved once per call from DI.</summary>
internal sealed class TurnServices
{
    public TurnServices(IServiceProvider services)
    {
        this.Workspace = services.GetRequiredService<IAgentWorkspace>();
        this.Sessions = services.GetRequiredService<ISessionStore>();
        this.Events = services.GetRequiredService<IRunEventLog>();
        this.Options = services.GetRequiredService<IOptions<AgentRuntimeOptions>>().Value;
        this.Tools = services.GetRequiredService<ToolRegistry>();
        this.Models = services.GetRequiredService<ChatClientFactory>();
        this.Links = services.GetService<IApprovalLinkFactory>();
        this.Time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        this.Streams = services.GetRequiredService<RunStreamRegistry>();
        this.Logger = services.GetService<ILoggerFactory>()?.CreateLogger("Kestrel.Cloud.Agents.Turns") ?? NullLogger.Instance;
    }

    public IAgentWorkspace Workspace { get; }

    public ISessionStore Sessions { get; }

    public IRunEventLog Events { get; }

    public AgentRuntimeOptions Options { get; }

    public ToolRegistry Tools { get; }

    public ChatClientFactory Models { get; }

    public IApprovalLinkFactory? Links { get; }

    public TimeProvider Time { get; }

    public RunStreamRegistry Streams { get; }

    public ILogger Logger { get; }

    public async Task<AgentDefinition> GetAgentAsync(string name, CancellationToken cancellationToken) =>
        await this.Workspace.GetAgentAsync(name, cancellationToken).ConfigureAwait(false) ?? throw AgentWorkspaceException.NotFound(name);
}

/// <summary><c>AgentTurn.LoadContext</c>: the agent, its composed prompt and the session history; appends <c>run.started</c>.</summary>
internal sealed class LoadContextActivity(IServiceProvider services) : TaskActivity<LoadContextInput, TurnContext>
{
    public override async Task<TurnContext> RunAsync(TaskActivityContext context, LoadContextInput input)
    {
        var s = new TurnServices(services);
        TurnInput turn = input.Turn;
        AgentDefinition agent = await s.GetAgentAsync(turn.Agent, context.CancellationToken).ConfigureAwait(false);
        string prompt = AgentPrompt.Compose(agent);
        IReadOnlyList<TurnMessage> history = Array.Empty<TurnMessage>();
        if (turn.SessionKey is { } key)
        {
            StoredSession? session = await s.Sessions.GetAsync(turn.Agent, key, context.CancellationToken).ConfigureAwait(false);
            history = TurnMessages.FromSessionJson(session?.MessagesJson);
        }

        int tokens = TurnMessages.EstimateTokens(history);
        await s.Events.AppendAsync(
            turn.RunId,
            new[] { NewRunEvent.Create("started", RunEventTypes.Started, new { runId = turn.RunId, agent = turn.Agent, sessionKey = turn.SessionKey, message = TurnEvents.Truncate(turn.Message, 16_384).Text, parentRunId = turn.ParentRunId }) },
            context.CancellationToken).ConfigureAwait(false);
        Log.RunStarted(s.Logger, turn.RunId, turn.Agent, turn.SessionKey);
        return new TurnContext(
            prompt,
            history,
            agent.MaxIterations,
            agent.ToolTimeout,
            s.Options.ApprovalTimeout,
            tokens > s.Options.ContextBudgetTokens && history.Count(m => m.Role == "user") > s.Options.CompactionKeepRecentTurns,
            s.Options.MaxSpawnDepth,
            s.Options.MaxTurnMessagesSizeBytes,
            s.Options.ToolResultDisplayMaxChars);
    }
}

/// <summary>
/// <c>AgentTurn.CompactSession</c>: replaces the session's older turns (all but the latest
/// <see cref="AgentRuntimeOptions.CompactionKeepRecentTurns"/>) by a summary written by the agent's model, and saves
/// the session (once per run: a retried activity finds its mark in <see cref="StoredSession.AppliedRuns"/>).
/// </summary>
internal sealed class CompactSessionActivity(IServiceProvider services) : TaskActivity<CompactSessionInput, CompactSessionResult>
{
    public const string SummaryPrefix = "Summary of the earlier conversation (older turns were replaced by this summary):";

    public override async Task<CompactSessionResult> RunAsync(TaskActivityContext context, CompactSessionInput input)
    {
        var s = new TurnServices(services);
        string mark = input.RunId + "#compact";
        (CompactSessionResult result, int summarized) = await SessionUpdate.ApplyAsync<(CompactSessionResult, int)>(
            s.Sessions,
            input.Agent,
            input.SessionKey,
            maxAttempts: 5,
            async session =>
            {
                IReadOnlyList<TurnMessage> messages = TurnMessages.FromSessionJson(session?.MessagesJson);
                if (session is null || session.AppliedRuns.Contains(mark))
                {
                    return SessionChange<(CompactSessionResult, int)>.Done((new CompactSessionResult(messages, ProviderUsage.Zero), 0));
                }

                int keep = s.Options.CompactionKeepRecentTurns;
                var userIndexes = messages.Select((m, i) => (m, i)).Where(x => x.m.Role == "user").Select(x => x.i).ToList();
                int cut = keep == 0 ? messages.Count : userIndexes.Count > keep ? userIndexes[^keep] : 0;
                if (cut == 0)
                {
                    return SessionChange<(CompactSessionResult, int)>.Done((new CompactSessionResult(messages, ProviderUsage.Zero), 0));
                }

                AgentDefinition agent = await s.GetAgentAsync(input.Agent, context.CancellationToken).ConfigureAwait(false);
                var usage = new UsageAccumulator(s.Models.GetPriceTable(agent.Provider));
                using IChatClient client = s.Models.CreateChatClient(agent.Provider, agent.Model).UseUsageTracking(usage);
                string summary = await SummarizeAsync(client, messages.Take(cut), context.CancellationToken).ConfigureAwait(false);
                var compacted = new List<TurnMessage> { new("system", SummaryPrefix + "\n" + summary) };
                compacted.AddRange(messages.Skip(cut));
                var applied = session.AppliedRuns.Append(mark).TakeLast(SaveSessionActivity.MaxAppliedRuns).ToList();
                return SessionChange<(CompactSessionResult, int)>.Save(compacted, applied, (new CompactSessionResult(compacted, usage.Total), cut));
            },
            $"The session {input.Agent}/{input.SessionKey} kept changing while it was being compacted; try again.",
            context.CancellationToken).ConfigureAwait(false);

        // Only a saved compaction summarised anything (cut > 0).
        if (summarized > 0)
        {
            Log.SessionCompacted(s.Logger, input.RunId, input.Agent, input.SessionKey, summarized);
        }

        return result;
    }

    /// <summary>
    /// Asks <paramref name="client"/> for a summary of <paramref name="messages"/> (temperature 0) and returns its
    /// trimmed text; the session compaction and the context-overflow compaction both use it.
    /// </summary>
    internal static async Task<string> SummarizeAsync(IChatClient client, IEnumerable<TurnMessage> messages, CancellationToken cancellationToken)
    {
        ChatResponse response = await client.GetResponseAsync(
            new[]
            {
                new ChatMessage(ChatRole.System, "You summarise conversations between a user and an AI assistant. Keep every fact, decision, open question, name, number and file path that later turns may need; drop small talk. Write plain prose, at most 300 words."),
                new ChatMessage(ChatRole.User, "Summarise this conversation:\n\n" + Transcript(messages)),
            },
            new ChatOptions { Temperature = 0 },
            cancellationToken).ConfigureAwait(false);
        return response.Text.Trim();
    }

    internal static string Transcript(IEnumerable<TurnMessage> messages)
    {
        var text = new StringBuilder();
        foreach (TurnMessage m in messages)
        {
            switch (m.Role)
            {
                case "tool":
                    text.Append("Tool result").Append(m.IsError ? " (error)" : string.Empty).Append(": ").AppendLine(TurnEvents.Truncate(m.Text ?? string.Empty, 2000).Text);
                    break;
                case "assistant":
                    if (!string.IsNullOrEmpty(m.Text))
                    {
                        text.Append("Assistant: ").AppendLine(m.Text);
                    }

                    foreach (TurnToolCall call in m.ToolCalls ?? Array.Empty<TurnToolCall>())
                    {
                        text.Append("Assistant called ").Append(call.Name).Append(' ').AppendLine(TurnEvents.Truncate(call.ArgumentsJson, 500).Text);
                    }

                    break;
                case "system":
                    text.AppendLine(m.Text);
                    break;
                default:
                    text.Append("User: ").AppendLine(m.Text);
                    break;
            }
        }

        return text.ToString();
    }
}

/// <summary>
/// What a model call does when the provider says the prompt overflows its context window: everything between the
/// system prompt and the latest <c>keepTurns</c> user turns is summarised by the model and the call is retried once
/// with the summary appended to the system prompt (the <c>UseContextCompaction</c> middleware).
/// </summary>
internal static class OverflowCompactor
{
    public static async Task<IReadOnlyList<ChatMessage>> CompactAsync(IChatClient summarizer, IReadOnlyList<ChatMessage> messages, int keepTurns, CancellationToken cancellationToken)
    {
        var userIndexes = messages.Select((m, i) => (m, i)).Where(x => x.m.Role == ChatRole.User).Select(x => x.i).ToList();
        int first = messages.Count > 0 && messages[0].Role == ChatRole.System ? 1 : 0;
        int cut = userIndexes.Count > keepTurns ? userIndexes[^keepTurns] : first;
        if (cut <= first)
        {
            return messages;
        }

        // The messages come from TurnMessages.ToChatMessages, so every tool message has its FunctionResultContent.
        var older = messages.Skip(first).Take(cut - first).Select(TurnMessages.FromChatMessage).OfType<TurnMessage>().ToList();
        string summary = await CompactSessionActivity.SummarizeAsync(summarizer, older, cancellationToken).ConfigureAwait(false);
        string system = (first == 1 ? messages[0].Text + "\n\n" : string.Empty) + CompactSessionActivity.SummaryPrefix + "\n" + summary;
        var compacted = new List<ChatMessage> { new(ChatRole.System, system) };
        compacted.AddRange(messages.Skip(cut));
        return compacted;
    }
}

/// <summary>
/// <c>AgentTurn.CallModel</c>: streams one model call, appending batched <c>text.delta</c> events while the model
/// writes, then <c>usage</c> and one <c>tool.call.requested</c> per call with the policy's decision. Event keys are
/// deterministic (<c>s{step}/...</c>), so a retried call never duplicates events.
/// </summary>
internal sealed class CallModelActivity(IServiceProvider services) : TaskActivity<CallModelInput, CallModelResult>
{
    public override async Task<CallModelResult> RunAsync(TaskActivityContext context, CallModelInput input)
    {
        var s = new TurnServices(services);
        if (s.Streams.IsFinished(input.RunId))
        {
            throw new TurnException($"The run {input.RunId} has finished; its model call is not made.");
        }

        using IDisposable registration = s.Streams.Register(input.RunId, context.CancellationToken, out CancellationToken ct);
        AgentDefinition agent = await s.GetAgentAsync(input.Agent, ct).ConfigureAwait(false);
        ToolPolicy policy = input.PolicyAgent is { } policyAgent && policyAgent != input.Agent
            ? (await s.GetAgentAsync(policyAgent, ct).ConfigureAwait(false)).Policy
            : agent.Policy;
        IReadOnlyList<IAgentTool> tools = s.Tools.Select(agent.Tools);

        var callUsage = new UsageAccumulator(s.Models.GetPriceTable(agent.Provider));
        using IChatClient summarizer = s.Models.CreateChatClient(agent.Provider, agent.Model).UseUsageTracking(callUsage);
        int keepTurns = Math.Max(1, s.Options.CompactionKeepRecentTurns);
        using IChatClient client = s.Models.CreateChatClient(agent.Provider, agent.Model)
            .UseContextCompaction((messages, _, token) => OverflowCompactor.CompactAsync(summarizer, messages, keepTurns, token))
            .UseUsageTracking(callUsage);
        var options = new ChatOptions
        {
            Tools = tools.Count > 0 ? tools.ToAITools() : null,
            Temperature = agent.Temperature is { } t ? (float)t : null,
            MaxOutputTokens = agent.MaxOutputTokens,
        };

        var batcher = new TextDeltaBatcher(s.Time, s.Options.DeltaBatchInterval, s.Options.DeltaBatchMaxChars);
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(TurnMessages.ToChatMessages(input.SystemPrompt, input.Messages), options, ct).ConfigureAwait(false))
        {
            updates.Add(update);
            if (batcher.Add(update.Text) is { } batch)
            {
                await this.AppendDeltaAsync(s, input, batcher.BatchCount, batch, ct).ConfigureAwait(false);
            }
        }

        if (batcher.Flush() is { } rest)
        {
            await this.AppendDeltaAsync(s, input, batcher.BatchCount, rest, ct).ConfigureAwait(false);
        }

        ChatResponse response = updates.ToChatResponse();
        var plans = new List<ToolCallPlan>();
        foreach (FunctionCallContent call in response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>())
        {
            plans.Add(Plan(call, tools, policy));
        }

        ProviderUsage callTotal = callUsage.Total;
        ProviderUsage total = input.UsageSoFar + callTotal;
        var events = new List<NewRunEvent>
        {
            NewRunEvent.Create($"s{input.Step}/usage", RunEventTypes.Usage, new { step = input.Step, model = response.ModelId, call = callTotal, total }),
        };
        events.AddRange(plans.Select(p => NewRunEvent.Create(
            $"s{input.Step}/call/{p.CallId}/requested",
            RunEventTypes.ToolCallRequested,
            new { step = input.Step, callId = p.CallId, tool = p.Tool, arguments = TurnArguments.ForDisplay(p.ArgumentsJson, 16_384), decision = p.Decision, reason = p.Reason })));
        await s.Events.AppendAsync(input.RunId, events, ct).ConfigureAwait(false);
        Log.ModelCalled(s.Logger, input.RunId, input.Step, response.ModelId, plans.Count, callTotal.InputTokens, callTotal.OutputTokens);
        return new CallModelResult(response.Text, plans, total);
    }

    private static ToolCallPlan Plan(FunctionCallContent call, IReadOnlyList<IAgentTool> tools, ToolPolicy policy)
    {
        string arguments = TurnMessages.SerializeArguments(call.Arguments);
        if (call.Exception is not null)
        {
            return new ToolCallPlan(call.CallId, call.Name, "{}", "deny", $"the arguments were not valid JSON ({call.Exception.Message}); send a JSON object.", false, false);
        }

        IAgentTool? tool = tools.FirstOrDefault(t => t.Name == call.Name);
        if (tool is null)
        {
            string offered = tools.Count == 0 ? "none" : string.Join(", ", tools.Select(t => t.Name));
            return new ToolCallPlan(call.CallId, call.Name, arguments, "deny", $"this agent has no tool named '{call.Name}' (its tools: {offered}).", false, false);
        }

        using JsonDocument doc = JsonDocument.Parse(arguments);
        ToolPolicyDecision decision = policy.Decide(tool, doc.RootElement);
        string action = decision.Action switch
        {
            ToolPolicyAction.Allow => "allow",
            ToolPolicyAction.Deny => "deny",
            _ => "ask",
        };
        return new ToolCallPlan(call.CallId, call.Name, arguments, action, decision.Reason, tool.IsReadOnlyFor(doc.RootElement), tool is SpawnTool);
    }

    private async Task AppendDeltaAsync(TurnServices s, CallModelInput input, int index, string text, CancellationToken ct) =>
        await s.Events.AppendAsync(
            input.RunId,
            new[] { NewRunEvent.Create($"s{input.Step}/delta/{index}", RunEventTypes.TextDelta, new { step = input.Step, text }) },
            ct).ConfigureAwait(false);
}

/// <summary><c>AgentTurn.RunTool</c>: one tool call with the agent's tool timeout; appends <c>tool.result</c> (cut for display).</summary>
internal sealed class RunToolActivity(IServiceProvider services) : TaskActivity<RunToolInput, RunToolResult>
{
    public override async Task<RunToolResult> RunAsync(TaskActivityContext context, RunToolInput input)
    {
        var s = new TurnServices(services);
        ToolResult result;
        if (!s.Tools.TryGet(input.Tool, out IAgentTool? tool))
        {
            result = ToolResult.Error($"This server has no tool named '{input.Tool}'.");
        }
        else
        {
            string directory = s.Workspace is LocalAgentWorkspace local
                ? local.GetFilesDirectory(input.Agent)
                : Directory.CreateDirectory(Path.Join(Path.GetTempPath(), "kestrel-agents", input.Agent, "files")).FullName;
            JsonElement arguments;
            try
            {
                using JsonDocument doc = JsonDocument.Parse(input.ArgumentsJson);
                arguments = doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                arguments = JsonSerializer.SerializeToElement(new { });
            }

            result = await s.Tools.InvokeAsync(
                tool, arguments, new ToolInvocationContext(input.Agent, directory, input.RunId, input.CallId), input.Timeout, context.CancellationToken).ConfigureAwait(false);
        }

        (string shown, bool truncated) = TurnEvents.Truncate(result.Text, s.Options.ToolResultDisplayMaxChars);
        await s.Events.AppendAsync(
            input.RunId,
            new[] { NewRunEvent.Create($"s{input.Step}/call/{input.CallId}/result", RunEventTypes.ToolResult, new { callId = input.CallId, tool = input.Tool, isError = result.IsError, text = shown, truncated = truncated || result.IsTruncated }) },
            context.CancellationToken).ConfigureAwait(false);
        Log.ToolRan(s.Logger, input.RunId, input.Tool, input.CallId, result.IsError);
        return new RunToolResult(result.Text, result.IsError, result.IsTruncated);
    }
}

/// <summary><c>AgentTurn.RequestApprovals</c>: appends <c>approval.requested</c> (with signed one-click links when a link factory is registered) to the run and its ancestors.</summary>
internal sealed class RequestApprovalsActivity(IServiceProvider services) : TaskActivity<RequestApprovalsInput, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, RequestApprovalsInput input)
    {
        var s = new TurnServices(services);
        var events = new List<NewRunEvent>();
        foreach (ToolCallPlan call in input.Calls)
        {
            (string ApproveUrl, string DenyUrl)? links = s.Links?.CreateLinks(input.RunId, call.CallId, input.ExpiresAt);
            events.Add(NewRunEvent.Create(
                $"s{input.Step}/call/{call.CallId}/approval",
                RunEventTypes.ApprovalRequested,
                new { callId = call.CallId, tool = call.Tool, arguments = TurnArguments.ForDisplay(call.ArgumentsJson, 16_384), reason = call.Reason, expiresAt = input.ExpiresAt, approveUrl = links?.ApproveUrl, denyUrl = links?.DenyUrl }));
        }

        await TurnEvents.AppendAsync(s.Events, input.RunId, events, input.MirrorRunIds, context.CancellationToken).ConfigureAwait(false);
        return true;
    }
}

/// <summary><c>AgentTurn.AppendEvents</c>: appends events the orchestration built (their keys make retries harmless).</summary>
internal sealed class AppendEventsActivity(IServiceProvider services) : TaskActivity<AppendEventsInput, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, AppendEventsInput input)
    {
        await TurnEvents.AppendAsync(services.GetRequiredService<IRunEventLog>(), input.RunId, input.Events, input.MirrorRunIds, context.CancellationToken).ConfigureAwait(false);
        return true;
    }
}

/// <summary>
/// <c>AgentTurn.SaveSession</c>: appends the turn's messages to the session, once per run (the run id is recorded in
/// <see cref="StoredSession.AppliedRuns"/>), re-reading on a concurrent write. For a cancelled run it first recovers
/// the text the interrupted model call had streamed, from the run's log.
/// </summary>
internal sealed class SaveSessionActivity(IServiceProvider services) : TaskActivity<SaveSessionInput, SaveSessionResult>
{
    public const int MaxAppliedRuns = 50;

    public override async Task<SaveSessionResult> RunAsync(TaskActivityContext context, SaveSessionInput input)
    {
        var s = new TurnServices(services);
        SaveSessionResult result = await SaveAsync(s, input, context.CancellationToken).ConfigureAwait(false);
        if (input.Finish is { } finish)
        {
            await FinishActivity.AppendFinishedAsync(s, finish, context.CancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    private static async Task<SaveSessionResult> SaveAsync(TurnServices s, SaveSessionInput input, CancellationToken ct)
    {
        string? recovered = input.PartialStep is { } step ? await RecoverAsync(s.Events, input.RunId, step, ct).ConfigureAwait(false) : null;
        if (input.SessionKey is not { } key)
        {
            return new SaveSessionResult(recovered);
        }

        var messages = input.NewMessages.ToList();
        if (!string.IsNullOrEmpty(recovered))
        {
            messages.Add(new TurnMessage("assistant", recovered));
        }

        if (messages.All(m => m.Role == "user"))
        {
            // Cancelled before the model said anything: an unanswered message would only confuse the next turn.
            return new SaveSessionResult(recovered);
        }

        var result = new SaveSessionResult(recovered);
        return await SessionUpdate.ApplyAsync(
            s.Sessions,
            input.Agent,
            key,
            maxAttempts: 10,
            session =>
            {
                if (session?.AppliedRuns.Contains(input.RunId) == true)
                {
                    return Task.FromResult(SessionChange<SaveSessionResult>.Done(result));
                }

                var all = TurnMessages.FromSessionJson(session?.MessagesJson).Concat(messages).ToList();
                var applied = (session?.AppliedRuns ?? Array.Empty<string>()).Append(input.RunId).TakeLast(MaxAppliedRuns).ToList();
                return Task.FromResult(SessionChange<SaveSessionResult>.Save(all, applied, result));
            },
            $"The session {input.Agent}/{key} kept changing while this run saved it; the run's messages were not saved.",
            ct).ConfigureAwait(false);
    }

    private static async Task<string?> RecoverAsync(IRunEventLog log, string runId, int step, CancellationToken ct)
    {
        var text = new StringBuilder();
        await foreach (RunEvent e in log.ReadAllAsync(runId, ct).ConfigureAwait(false))
        {
            if (e.Type == RunEventTypes.TextDelta
                && e.Data.TryGetProperty("step", out JsonElement st) && st.TryGetInt32(out int n) && n == step && e.Data.TryGetProperty("text", out JsonElement t))
            {
                text.Append(t.GetString());
            }
        }

        return text.Length == 0 ? null : text.ToString();
    }
}

/// <summary><c>AgentTurn.Finish</c>: appends <c>run.finished</c>, always the run's last event.</summary>
internal sealed class FinishActivity(IServiceProvider services) : TaskActivity<FinishInput, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, FinishInput input)
    {
        await AppendFinishedAsync(new TurnServices(services), input, context.CancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Appends <c>run.finished</c> (once: its key is fixed) and logs the end of the run.</summary>
    internal static async Task AppendFinishedAsync(TurnServices s, FinishInput input, CancellationToken cancellationToken)
    {
        s.Streams.MarkFinished(input.RunId);
        string? text = input.Text is null ? null : TurnEvents.Truncate(input.Text, 48_000).Text;
        await s.Events.AppendAsync(
            input.RunId,
            new[] { NewRunEvent.Create("finished", RunEventTypes.Finished, new { status = input.Status, text, error = input.Error, usage = input.Usage, iterations = input.Iterations, iterationLimitReached = input.IterationLimitReached }) },
            cancellationToken).ConfigureAwait(false);
        if (input.Error is not null)
        {
            Log.RunFailed(s.Logger, input.RunId, input.Error);
        }

        Log.RunFinished(s.Logger, input.RunId, input.Status, input.Iterations);
    }
}
