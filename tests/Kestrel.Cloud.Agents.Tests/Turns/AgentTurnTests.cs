using System.Text.Json;
using Kestrel.Cloud.Agents.Runs;
using Kestrel.Cloud.Testing.Scripted;
using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>
/// Real turns (AgentTurn orchestration, real engine, real OpenAI SDK against the scripted server), once per engine
/// store. Each test says what it proves.
/// </summary>
public abstract class AgentTurnTests : IAsyncLifetime
{
    private readonly RecordingTool lookup = new("lookup", isReadOnly: true);
    private readonly RecordingTool search = new("search", isReadOnly: true);
    private readonly RecordingTool writer = new("writer", isReadOnly: false);
    private TurnHarness h = null!;

    protected abstract bool UseSqlite { get; }

    public async Task InitializeAsync()
    {
        this.h = await TurnHarness.CreateAsync(this.UseSqlite, null, this.lookup, this.search, this.writer);
        await this.h.CreateAgentAsync("helper", "tools: [lookup, search, writer, spawn]");
    }

    public async Task DisposeAsync() => await this.h.DisposeAsync();

    /// <summary>Proves a multi-step turn: the model asks for a tool, the tool runs once, its result goes back, the final answer ends the run; the log is ordered and complete.</summary>
    [Fact]
    public async Task Turn_ToolThenAnswer_CompletesWithFinalTextUsageAndOrderedEvents()
    {
        this.h.Server.Enqueue(
            TurnWire.Tools("Let me look.", ("call_1", "lookup", """{"q":"answer"}""")),
            TurnWire.Text("The answer ", "is 42."));

        string runId = await this.h.StartAsync("helper", "What is the answer?");
        runId.Should().MatchRegex("^run\\.helper\\.[0-9a-f]{32}$");
        await this.h.RunUntilIdleAsync();

        RunInfo run = await this.h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Completed);
        run.FinalText.Should().Be("The answer is 42.");
        run.Iterations.Should().Be(2);
        run.Usage.InputTokens.Should().Be(200);
        run.Usage.OutputTokens.Should().Be(20);
        run.Usage.CostUsd.Should().Be(((200m * 2) + (20m * 10)) / 1_000_000m);
        this.lookup.Calls.Should().Equal("""{"q":"answer"}""");

        var second = TurnWire.Messages(this.h.Server.Requests[1]);
        second.Select(m => m.Role).Should().Equal("system", "user", "assistant", "tool");
        second[3].Text.Should().Be("""lookup got {"q":"answer"}""");

        IReadOnlyList<RunEvent> events = await this.h.EventsOfAsync(runId);
        events.Select(e => e.Sequence).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        events.Select(e => e.Type).Should().Equal(
            RunEventTypes.Started,
            RunEventTypes.TextDelta,
            RunEventTypes.Usage,
            RunEventTypes.ToolCallRequested,
            RunEventTypes.ToolResult,
            RunEventTypes.TextDelta,
            RunEventTypes.TextDelta,
            RunEventTypes.Usage,
            RunEventTypes.Finished);
        events[3].Data.GetProperty("decision").GetString().Should().Be("allow");
        events[4].Data.GetProperty("text").GetString().Should().Be("""lookup got {"q":"answer"}""");
        string.Concat(events.Where(e => e.Type == RunEventTypes.TextDelta && e.Data.GetProperty("step").GetInt32() == 2).Select(e => e.Data.GetProperty("text").GetString()))
            .Should().Be("The answer is 42.");
        events[^1].Data.GetProperty("status").GetString().Should().Be("completed");
        events[^1].Data.GetProperty("text").GetString().Should().Be("The answer is 42.");
        events[7].Data.GetProperty("total").GetProperty("inputTokens").GetInt64().Should().Be(200);
    }

    /// <summary>Proves read-only calls of one step are scheduled together (both before either completes) and a mutating call only after them.</summary>
    [Fact]
    public async Task Turn_ReadOnlyAndMutatingCalls_ReadOnlyRunInParallelMutatingAfter()
    {
        await this.h.CreateAgentAsync("par", "tools: [lookup, search, writer]\napproval:\n  - tool: writer\n    action: allow");
        this.h.Server.Enqueue(
            TurnWire.Tools(null, ("c1", "lookup", """{"q":"a"}"""), ("c2", "search", """{"q":"b"}"""), ("c3", "writer", """{"q":"c"}""")),
            TurnWire.Text("done"));

        string runId = await this.h.StartAsync("par", "go");
        await this.h.RunUntilIdleAsync();

        (await this.h.GetAsync(runId)).Status.Should().Be(RunStatus.Completed);
        IReadOnlyList<HistoryEvent> history = await this.h.Client.GetHistoryAsync(runId);
        var toolTasks = history.OfType<TaskScheduledEvent>().Where(e => e.Name == "AgentTurn.RunTool").ToList();
        toolTasks.Should().HaveCount(3);
        int Index(HistoryEvent e) => history.ToList().IndexOf(e);
        int Completed(TaskScheduledEvent s) => history.Select((e, i) => (e, i)).Single(x => x.e is TaskCompletedEvent c && c.TaskScheduledId == s.TaskId).i;
        TaskScheduledEvent a = toolTasks.Single(t => t.Input!.Contains("\"c1\"", StringComparison.Ordinal));
        TaskScheduledEvent b = toolTasks.Single(t => t.Input!.Contains("\"c2\"", StringComparison.Ordinal));
        TaskScheduledEvent c = toolTasks.Single(t => t.Input!.Contains("\"c3\"", StringComparison.Ordinal));
        Index(b).Should().BeLessThan(Completed(a), "the second read-only call is scheduled before the first one finished");
        Index(c).Should().BeGreaterThan(Math.Max(Completed(a), Completed(b)), "the mutating call waits for the read-only ones");

        var tools = TurnWire.Messages(this.h.Server.Requests[1]).Where(m => m.Role == "tool").Select(m => m.Text).ToList();
        tools.Should().Equal("""lookup got {"q":"a"}""", """search got {"q":"b"}""", """writer got {"q":"c"}""");
    }

    /// <summary>Proves an asking call waits with signed links, shows as WaitingForApproval, and runs once approved.</summary>
    [Fact]
    public async Task Approval_Granted_ToolRunsAndRunCompletes()
    {
        this.h.Server.Enqueue(TurnWire.Tools("I will write.", ("w1", "writer", """{"q":"x"}""")), TurnWire.Text("Written."));
        string runId = await this.h.StartAsync("helper", "write x");
        await this.h.RunUntilIdleAsync();

        RunInfo waiting = await this.h.GetAsync(runId);
        waiting.Status.Should().Be(RunStatus.WaitingForApproval);
        PendingApproval pending = waiting.PendingApprovals.Single();
        pending.CallId.Should().Be("w1");
        pending.Tool.Should().Be("writer");
        pending.Arguments.GetProperty("q").GetString().Should().Be("x");
        pending.ExpiresAt.Should().Be(this.h.Clock.GetUtcNow() + TimeSpan.FromHours(1));
        pending.ApproveUrl.Should().Be($"https://kestrel.test/approve/{runId}/w1");
        pending.DenyUrl.Should().Be($"https://kestrel.test/deny/{runId}/w1");
        this.writer.Calls.Should().BeEmpty();
        (await this.h.Runs.DecideAsync(runId, "other", new ApprovalDecision(true))).Should().Be(ApprovalOutcome.NotPending);

        (await this.h.Runs.DecideAsync(runId, "w1", new ApprovalDecision(true, "fine", "alice"))).Should().Be(ApprovalOutcome.Accepted);
        await this.h.RunUntilIdleAsync();

        RunInfo done = await this.h.GetAsync(runId);
        done.Status.Should().Be(RunStatus.Completed);
        done.FinalText.Should().Be("Written.");
        this.writer.Calls.Should().HaveCount(1);
        (await this.h.Runs.DecideAsync(runId, "w1", new ApprovalDecision(true))).Should().Be(ApprovalOutcome.NotPending);
        var types = (await this.h.EventsOfAsync(runId)).Select(e => e.Type).ToList();
        types.Should().ContainInOrder(RunEventTypes.ToolCallRequested, RunEventTypes.ApprovalRequested, RunEventTypes.ApprovalGranted, RunEventTypes.ToolResult, RunEventTypes.Finished);
        RunEvent requested = (await this.h.EventsOfAsync(runId)).Single(e => e.Type == RunEventTypes.ApprovalRequested);
        requested.Data.GetProperty("approveUrl").GetString().Should().Be($"https://kestrel.test/approve/{runId}/w1");
    }

    /// <summary>Proves a denial does not run the tool and reaches the model as a tool error naming who denied and why.</summary>
    [Fact]
    public async Task Approval_Denied_ToolNotRunModelGetsToolError()
    {
        this.h.Server.Enqueue(TurnWire.Tools(null, ("w1", "writer", """{"q":"x"}""")), TurnWire.Text("OK, I will not write."));
        string runId = await this.h.StartAsync("helper", "write x");
        await this.h.RunUntilIdleAsync();

        (await this.h.Runs.DecideAsync(runId, "w1", new ApprovalDecision(false, "not today", "bob"))).Should().Be(ApprovalOutcome.Accepted);
        await this.h.RunUntilIdleAsync();

        (await this.h.GetAsync(runId)).FinalText.Should().Be("OK, I will not write.");
        this.writer.Calls.Should().BeEmpty();
        string toolMessage = TurnWire.Messages(this.h.Server.Requests[1]).Single(m => m.Role == "tool").Text;
        toolMessage.Should().Contain("denied by bob: not today");
        RunEvent denied = (await this.h.EventsOfAsync(runId)).Single(e => e.Type == RunEventTypes.ApprovalDenied);
        denied.Data.GetProperty("by").GetString().Should().Be("bob");
    }

    /// <summary>Proves an unanswered approval times out at the configured timeout (fake clock), counts as a denial and the run goes on.</summary>
    [Fact]
    public async Task Approval_TimesOut_CountsAsDenialAtConfiguredTimeout()
    {
        this.h.Server.Enqueue(TurnWire.Tools(null, ("w1", "writer", "{}")), TurnWire.Text("Nobody answered."));
        string runId = await this.h.StartAsync("helper", "write");
        await this.h.RunUntilIdleAsync();

        await this.h.AdvanceAsync(TimeSpan.FromMinutes(59));
        (await this.h.GetAsync(runId)).Status.Should().Be(RunStatus.WaitingForApproval);

        await this.h.AdvanceAsync(TimeSpan.FromMinutes(2));
        RunInfo run = await this.h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Completed);
        run.FinalText.Should().Be("Nobody answered.");
        this.writer.Calls.Should().BeEmpty();
        TurnWire.Messages(this.h.Server.Requests[1]).Single(m => m.Role == "tool").Text.Should().Contain("No decision within 1h");
        (await this.h.EventsOfAsync(runId)).Select(e => e.Type).Should().Contain(RunEventTypes.ApprovalTimedOut).And.NotContain(RunEventTypes.ApprovalGranted);
        (await this.h.Runs.DecideAsync(runId, "w1", new ApprovalDecision(true))).Should().Be(ApprovalOutcome.NotPending);
    }

    /// <summary>Proves the policy's deny reaches the model as a tool error without asking anyone.</summary>
    [Fact]
    public async Task Policy_Deny_ModelGetsToolErrorWithoutApproval()
    {
        await this.h.CreateAgentAsync("strict", "tools: [writer]\napproval:\n  - tool: writer\n    action: deny");
        this.h.Server.Enqueue(TurnWire.Tools(null, ("w1", "writer", "{}")), TurnWire.Text("Understood."));
        string runId = await this.h.StartAsync("strict", "write");
        await this.h.RunUntilIdleAsync();

        (await this.h.GetAsync(runId)).Status.Should().Be(RunStatus.Completed);
        this.writer.Calls.Should().BeEmpty();
        TurnWire.Messages(this.h.Server.Requests[1]).Single(m => m.Role == "tool").Text.Should().Contain("denied").And.Contain("rule 1");
        (await this.h.EventsOfAsync(runId)).Select(e => e.Type).Should().NotContain(RunEventTypes.ApprovalRequested);
    }

    /// <summary>Proves the iteration limit stops the turn with a clear final message after exactly max_iterations model calls.</summary>
    [Fact]
    public async Task Turn_IterationLimit_StopsWithClearMessage()
    {
        await this.h.CreateAgentAsync("loopy", "max_iterations: 2\ntools: [lookup]");
        this.h.Server.Enqueue(
            TurnWire.Tools(null, ("l1", "lookup", "{}")),
            TurnWire.Tools(null, ("l2", "lookup", "{}")));
        string runId = await this.h.StartAsync("loopy", "loop");
        await this.h.RunUntilIdleAsync();

        RunInfo run = await this.h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Completed);
        run.FinalText.Should().Contain("limit of 2 model calls (max_iterations)");
        run.Iterations.Should().Be(2);
        this.h.Server.Requests.Should().HaveCount(2);
        this.lookup.Calls.Should().HaveCount(2);
        (await this.h.EventsOfAsync(runId))[^1].Data.GetProperty("iterationLimitReached").GetBoolean().Should().BeTrue();
    }

    /// <summary>Proves cancelling a waiting run ends it as Cancelled, keeps the text it produced, appends finished(cancelled) and runs nothing more.</summary>
    [Fact]
    public async Task Cancel_WhileWaitingForApproval_EndsCancelledKeepingPartialText()
    {
        this.h.Server.Enqueue(TurnWire.Tools("Working on it.", ("w1", "writer", "{}")));
        string runId = await this.h.StartAsync("helper", "write", "s1");
        await this.h.RunUntilIdleAsync();
        (await this.h.GetAsync(runId)).Status.Should().Be(RunStatus.WaitingForApproval);

        (await this.h.Runs.CancelAsync(runId, "user stopped it")).Should().BeTrue();
        await this.h.RunUntilIdleAsync();

        RunInfo run = await this.h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Cancelled);
        run.FinalText.Should().Be("Working on it.");
        run.PendingApprovals.Should().BeEmpty();
        this.writer.Calls.Should().BeEmpty();
        this.h.Server.Requests.Should().HaveCount(1);
        RunEvent last = (await this.h.EventsOfAsync(runId))[^1];
        last.Type.Should().Be(RunEventTypes.Finished);
        last.Data.GetProperty("status").GetString().Should().Be("cancelled");
        (await this.h.Runs.CancelAsync(runId)).Should().BeFalse();
        (await this.h.Runs.DecideAsync(runId, "w1", new ApprovalDecision(true))).Should().Be(ApprovalOutcome.NotPending);
        IReadOnlyList<Kestrel.Cloud.Agents.Turns.TurnMessage> saved = Kestrel.Cloud.Agents.Turns.TurnMessages.FromSessionJson((await this.h.Sessions.GetAsync("helper", "s1"))!.MessagesJson);
        saved.Select(m => m.Role).Should().Equal("user", "assistant", "tool");
        saved[1].Text.Should().Be("Working on it.");
        saved[2].CallId.Should().Be("w1");
        saved[2].IsError.Should().BeTrue();
        saved[2].Text.Should().Contain("cancelled before this tool call finished");
    }

    /// <summary>Proves a run cancelled before it started ends Cancelled without calling the model or saving a session.</summary>
    [Fact]
    public async Task Cancel_BeforeStart_EndsCancelledWithoutModelCall()
    {
        string runId = await this.h.StartAsync("helper", "never mind", "c0");
        (await this.h.GetAsync(runId)).Status.Should().Be(RunStatus.Pending);
        (await this.h.Runs.CancelAsync(runId)).Should().BeTrue();
        await this.h.RunUntilIdleAsync();

        RunInfo run = await this.h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Cancelled);
        run.FinalText.Should().BeEmpty();
        this.h.Server.Requests.Should().BeEmpty();
        (await this.h.Sessions.GetAsync("helper", "c0")).Should().BeNull();
        (await this.h.EventsOfAsync(runId))[^1].Data.GetProperty("status").GetString().Should().Be("cancelled");
    }

    /// <summary>Proves many asking calls with large arguments still fit the custom status (arguments dropped there, kept in the log) and each can be decided.</summary>
    [Fact]
    public async Task Approval_ManyLargeCalls_AllPendingAndDecidable()
    {
        string big = new('x', 3000);
        var calls = Enumerable.Range(1, 8).Select(i => ($"w{i}", "writer", "{\"q\":\"" + big + "\"}")).ToArray();
        this.h.Server.Enqueue(TurnWire.Tools(null, calls), TurnWire.Text("All denied."));
        string runId = await this.h.StartAsync("helper", "write a lot");
        await this.h.RunUntilIdleAsync();

        RunInfo waiting = await this.h.GetAsync(runId);
        waiting.Status.Should().Be(RunStatus.WaitingForApproval);
        waiting.PendingApprovals.Select(p => p.CallId).Should().Equal(calls.Select(c => c.Item1));
        (await this.h.EventsOfAsync(runId)).Where(e => e.Type == RunEventTypes.ApprovalRequested)
            .Should().HaveCount(8).And.OnlyContain(e => e.Data.GetProperty("arguments").GetProperty("q").GetString() == big);
        foreach ((string id, _, _) in calls)
        {
            (await this.h.Runs.DecideAsync(runId, id, new ApprovalDecision(false))).Should().Be(ApprovalOutcome.Accepted);
        }

        await this.h.RunUntilIdleAsync();
        (await this.h.GetAsync(runId)).FinalText.Should().Be("All denied.");
        this.writer.Calls.Should().BeEmpty();
    }

    /// <summary>Proves the session carries a conversation into the next turn and each run is saved once.</summary>
    [Fact]
    public async Task Session_TwoTurns_SecondSeesFirst()
    {
        this.h.Server.Enqueue(TurnWire.Text("Hello Ada."), TurnWire.Text("Your name is Ada."));
        string first = await this.h.StartAsync("helper", "My name is Ada.", "chat-1");
        await this.h.RunUntilIdleAsync();
        string second = await this.h.StartAsync("helper", "What is my name?", "chat-1");
        await this.h.RunUntilIdleAsync();

        (await this.h.GetAsync(second)).FinalText.Should().Be("Your name is Ada.");
        TurnWire.Messages(this.h.Server.Requests[1]).Select(m => (m.Role, m.Text)).Skip(1).Should().Equal(
            ("user", "My name is Ada."), ("assistant", "Hello Ada."), ("user", "What is my name?"));
        var session = await this.h.Sessions.GetAsync("helper", "chat-1");
        session!.MessageCount.Should().Be(4);
        session.AppliedRuns.Should().Equal(first, second);
        (await this.h.Sessions.GetAsync("helper", "default")).Should().BeNull("another session key is another conversation");
    }

    /// <summary>Proves spawn runs a sub-agent as a sub-orchestration {parent}.s1 with its own context, and its answer returns to the parent.</summary>
    [Fact]
    public async Task Spawn_RunsSubOrchestrationAndReturnsItsAnswer()
    {
        this.h.Server.Enqueue(
            TurnWire.Tools(null, ("sp1", "spawn", """{"task":"Count to three."}""")),
            TurnWire.Text("one two three"),
            TurnWire.Text("The sub-agent counted."));
        string runId = await this.h.StartAsync("helper", "delegate");
        await this.h.RunUntilIdleAsync();

        (await this.h.GetAsync(runId)).FinalText.Should().Be("The sub-agent counted.");
        RunInfo child = await this.h.GetAsync(runId + ".s1");
        child.Status.Should().Be(RunStatus.Completed);
        child.ParentRunId.Should().Be(runId);
        child.FinalText.Should().Be("one two three");
        TurnWire.Messages(this.h.Server.Requests[1]).Select(m => m.Role).Should().Equal("system", "user");
        TurnWire.Messages(this.h.Server.Requests[1])[1].Text.Should().Be("Count to three.");
        TurnWire.Messages(this.h.Server.Requests[2]).Single(m => m.Role == "tool").Text.Should().Be("one two three");
        (await this.h.EventsOfAsync(runId + ".s1")).Select(e => e.Type).Should().StartWith(RunEventTypes.Started).And.EndWith(RunEventTypes.Finished);
        (await this.h.Sessions.GetAsync("helper", "default"))!.MessageCount.Should().Be(4, "the child keeps no session; the parent saved user, assistant+call, tool, answer");
    }

    /// <summary>Proves a sub-agent's calls are decided by the parent's policy, not its own agent's: the child's own rule denies writer, the parent's allows it.</summary>
    [Fact]
    public async Task Spawn_OtherAgent_UsesParentsPolicy()
    {
        await this.h.CreateAgentAsync("boss", "tools: [spawn, writer]\napproval:\n  - tool: writer\n    action: allow");
        await this.h.CreateAgentAsync("worker-bot", "tools: [writer]\napproval:\n  - tool: writer\n    action: deny", "You are the worker.");
        this.h.Server.Enqueue(
            TurnWire.Tools(null, ("sp1", "spawn", """{"task":"Write it.","agent":"worker-bot"}""")),
            TurnWire.Tools(null, ("cw1", "writer", """{"q":"child"}""")),
            TurnWire.Text("child wrote"),
            TurnWire.Text("boss done"));
        string runId = await this.h.StartAsync("boss", "delegate");
        await this.h.RunUntilIdleAsync();

        (await this.h.GetAsync(runId)).FinalText.Should().Be("boss done");
        RunInfo child = await this.h.GetAsync(runId + ".s1");
        child.Agent.Should().Be("worker-bot");
        TurnWire.Messages(this.h.Server.Requests[1])[0].Text.Should().StartWith("You are the worker.");
        this.writer.Calls.Should().Equal("""{"q":"child"}""");
        (await this.h.EventsOfAsync(runId + ".s1")).Single(e => e.Type == RunEventTypes.ToolCallRequested).Data.GetProperty("decision").GetString().Should().Be("allow");
    }

    /// <summary>Proves a sub-agent's approvals use the parent's policy and are decided through the parent run.</summary>
    [Fact]
    public async Task Spawn_ChildAsks_DecidedThroughParent()
    {
        this.h.Server.Enqueue(
            TurnWire.Tools(null, ("sp1", "spawn", """{"task":"Write it."}""")),
            TurnWire.Tools(null, ("cw1", "writer", "{}")),
            TurnWire.Text("child wrote"),
            TurnWire.Text("parent done"));
        string runId = await this.h.StartAsync("helper", "delegate");
        await this.h.RunUntilIdleAsync();

        RunInfo parent = await this.h.GetAsync(runId);
        parent.Status.Should().Be(RunStatus.WaitingForApproval);
        parent.PendingApprovals.Single().ApproveUrl.Should().Be($"https://kestrel.test/approve/{runId}.s1/cw1");
        (await this.h.EventsOfAsync(runId)).Should().Contain(e => e.Type == RunEventTypes.ApprovalRequested && e.Data.GetProperty("runId").GetString() == runId + ".s1");

        (await this.h.Runs.DecideAsync(runId, "cw1", new ApprovalDecision(true))).Should().Be(ApprovalOutcome.Accepted);
        await this.h.RunUntilIdleAsync();
        (await this.h.GetAsync(runId)).FinalText.Should().Be("parent done");
        this.writer.Calls.Should().HaveCount(1);
    }

    /// <summary>Proves a provider failure ends the run as failed with the provider's (safe) message, appends finished(failed) and saves no session.</summary>
    [Fact]
    public async Task Turn_ProviderRejectsKey_FailsWithProviderMessage()
    {
        this.h.Server.Enqueue(OpenAIWire.InvalidKey());
        string runId = await this.h.StartAsync("helper", "hi", "f1");
        await this.h.RunUntilIdleAsync();

        RunInfo run = await this.h.GetAsync(runId);
        run.Status.Should().Be(RunStatus.Failed);
        run.Error.Should().Contain("Incorrect API key").And.NotContain("internal error");
        RunEvent last = (await this.h.EventsOfAsync(runId))[^1];
        last.Type.Should().Be(RunEventTypes.Finished);
        last.Data.GetProperty("status").GetString().Should().Be("failed");
        (await this.h.Sessions.GetAsync("helper", "f1")).Should().BeNull();
    }

    /// <summary>Proves validation at start: unknown agent, empty message, invalid session key.</summary>
    [Fact]
    public async Task Start_InvalidRequests_Refused()
    {
        Func<Task> unknown = () => this.h.Runs.StartAsync(new StartRunRequest("nobody", "hi"));
        (await unknown.Should().ThrowAsync<Kestrel.Cloud.Agents.Definitions.AgentWorkspaceException>()).Which.Error.Should().Be(Kestrel.Cloud.Agents.Definitions.AgentWorkspaceError.NotFound);
        Func<Task> empty = () => this.h.Runs.StartAsync(new StartRunRequest("helper", " "));
        await empty.Should().ThrowAsync<ArgumentException>().WithMessage("*empty*");
        Func<Task> big = () => this.h.Runs.StartAsync(new StartRunRequest("helper", new string('x', 70_000)));
        await big.Should().ThrowAsync<ArgumentException>().WithMessage("*at most 65536*");
        Func<Task> key = () => this.h.Runs.StartAsync(new StartRunRequest("helper", "hi", "bad key"));
        await key.Should().ThrowAsync<ArgumentException>();
        (await this.h.Runs.GetAsync("run.helper.00000000000000000000000000000000")).Should().BeNull();
    }

    /// <summary>Proves listing filters by agent and status and maps each run.</summary>
    [Fact]
    public async Task List_ByAgentAndStatus()
    {
        await this.h.CreateAgentAsync("other", "tools: []");
        this.h.Server.Enqueue(TurnWire.Text("a"), TurnWire.Tools(null, ("w1", "writer", "{}")));
        string done = await this.h.StartAsync("other", "x");
        await this.h.RunUntilIdleAsync();
        string waiting = await this.h.StartAsync("helper", "y");
        await this.h.RunUntilIdleAsync();

        var (all, _) = await this.h.Runs.ListAsync(null, null);
        all.Select(r => r.RunId).Should().BeEquivalentTo(new[] { done, waiting });
        (await this.h.Runs.ListAsync("other", null)).Runs.Select(r => r.RunId).Should().Equal(done);
        (await this.h.Runs.ListAsync(null, RunStatus.WaitingForApproval)).Runs.Select(r => r.RunId).Should().Equal(waiting);
        (await this.h.Runs.ListAsync(null, RunStatus.Completed)).Runs.Select(r => r.RunId).Should().Equal(done);
    }

    /// <summary>
    /// Proves what docs/agents.md and docs/http-api.md say about the list: it maps each run alone, without looking at
    /// its sub-agents, so a run whose sub-agent waits for an approval lists as Running (its detail says
    /// WaitingForApproval) and the sub-agent run is listed itself as WaitingForApproval.
    /// </summary>
    [Fact]
    public async Task List_SubAgentWaitsForApproval_ParentListsAsRunning()
    {
        this.h.Server.Enqueue(
            TurnWire.Tools(null, ("sp1", "spawn", """{"task":"Write it."}""")),
            TurnWire.Tools(null, ("cw1", "writer", "{}")));
        string runId = await this.h.StartAsync("helper", "delegate");
        await this.h.RunUntilIdleAsync();

        RunInfo detail = await this.h.GetAsync(runId);
        detail.Status.Should().Be(RunStatus.WaitingForApproval);
        detail.PendingApprovals.Select(p => p.CallId).Should().Equal("cw1");

        var (all, _) = await this.h.Runs.ListAsync(null, null);
        RunInfo listed = all.Single(r => r.RunId == runId);
        listed.Status.Should().Be(RunStatus.Running);
        listed.PendingApprovals.Should().BeEmpty();
        all.Single(r => r.RunId == runId + ".s1").Status.Should().Be(RunStatus.WaitingForApproval);
        (await this.h.Runs.ListAsync(null, RunStatus.WaitingForApproval)).Runs.Select(r => r.RunId).Should().Equal(runId + ".s1");
    }
}

/// <summary>The turn tests on the in-memory engine store.</summary>
public sealed class AgentTurnInMemoryTests : AgentTurnTests
{
    protected override bool UseSqlite => false;
}

/// <summary>The turn tests on the SQLite engine store.</summary>
public sealed class AgentTurnSqliteTests : AgentTurnTests
{
    protected override bool UseSqlite => true;
}
