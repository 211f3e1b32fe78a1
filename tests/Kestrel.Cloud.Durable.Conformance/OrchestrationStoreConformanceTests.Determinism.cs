using Microsoft.Extensions.Logging;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>Replay and determinism: non-determinism detection, non-durable awaits, stable GUIDs and time, IsReplaying, replay-safe logging.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>Proves an orchestrator whose code changes between steps (a different activity on replay) fails with a message naming
    /// the recorded and the issued action, and the new action is never run.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Replay_OrchestratorIssuesDifferentActivity_FailsNamingBothActions(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        bool codeChanged = false; // read by the orchestrator like a static toggle, but private to this test
        int bCalls = 0;
        h.Registry
            .AddActivityFunc<string, string>("ActivityA", (_, s) => s)
            .AddActivityFunc<string, string>("ActivityB", (_, s) =>
            {
                bCalls++;
                return s;
            })
            .AddOrchestratorFunc<object?, string>("Shifty", async (ctx, _) =>
            {
                await ctx.CallActivityAsync<string>(codeChanged ? "ActivityB" : "ActivityA", "x");
                return await ctx.WaitForExternalEvent<string>("go");
            });

        string id = await h.StartAsync("Shifty");
        await h.RunUntilIdleAsync();
        codeChanged = true;
        await h.RestartAsync(); // a new deployment: the cached executor is gone, the next step replays
        await h.Client.RaiseEventAsync(id, "go", "now");
        await h.RunUntilIdleAsync();

        OrchestrationMetadata meta = await h.GetAsync(id);
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorType.Should().Be(typeof(NonDeterministicOrchestrationException).FullName);
        meta.FailureDetails.ErrorMessage.Should().Contain("CallActivity(ActivityA)").And.Contain("CallActivity(ActivityB)").And.Contain(id);
        bCalls.Should().Be(0);
    }

    /// <summary>Proves replacing a recorded timer with an activity call is detected, and the message names both kinds of action.</summary>
    [Fact]
    public async Task Replay_OrchestratorIssuesActivityWhereTimerWasRecorded_FailsNamingBothActions()
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay: true);
        bool codeChanged = false;
        h.Registry
            .AddActivityFunc<string, string>("Work", (_, s) => s)
            .AddOrchestratorFunc<object?, string>("TimerOrWork", async (ctx, _) =>
            {
                if (codeChanged)
                {
                    await ctx.CallActivityAsync<string>("Work", "x");
                }
                else
                {
                    await ctx.CreateTimer(TimeSpan.FromMinutes(1));
                }

                return "done";
            });

        string id = await h.StartAsync("TimerOrWork");
        await h.RunUntilIdleAsync();
        codeChanged = true;
        await h.AdvanceAsync(TimeSpan.FromMinutes(1));

        OrchestrationMetadata meta = await h.GetAsync(id);
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorMessage.Should().Contain("CreateTimer(").And.Contain("CallActivity(Work)");
    }

    /// <summary>Proves an orchestrator that no longer issues a recorded action fails with a message naming the recorded action.</summary>
    [Fact]
    public async Task Replay_OrchestratorSkipsRecordedAction_FailsNamingTheRecordedAction()
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay: true);
        bool codeChanged = false;
        h.Registry
            .AddActivityFunc<string, string>("Audit", (_, s) => s)
            .AddOrchestratorFunc<object?, string>("Skipper", async (ctx, _) =>
            {
                if (!codeChanged)
                {
                    await ctx.CallActivityAsync<string>("Audit", "x");
                }

                return await ctx.WaitForExternalEvent<string>("go");
            });

        string id = await h.StartAsync("Skipper");
        await h.RunUntilIdleAsync();
        codeChanged = true;
        await h.Client.RaiseEventAsync(id, "go", "now");
        await h.RunUntilIdleAsync();

        OrchestrationMetadata meta = await h.GetAsync(id);
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorType.Should().Be(typeof(NonDeterministicOrchestrationException).FullName);
        meta.FailureDetails.ErrorMessage.Should().Contain("CallActivity(Audit)").And.Contain("did not issue");
    }

    /// <summary>Proves awaiting Task.Delay in an orchestrator fails the instance with NonDurableTaskAwaitedException's message.</summary>
    [Fact]
    public async Task Orchestrator_AwaitsTaskDelay_FailsWithNonDurableTaskAwaited()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Sleeper", async (_, _) =>
        {
            await Task.Delay(TimeSpan.FromMinutes(5));
            return "woke";
        });

        OrchestrationMetadata meta = await h.RunAsync("Sleeper");

        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorType.Should().Be(typeof(NonDurableTaskAwaitedException).FullName);
        meta.FailureDetails.ErrorMessage.Should().Be(NonDurableTaskAwaitedException.DefaultMessage);
    }

    /// <summary>Proves awaiting Task.Run in an orchestrator (after durable work) fails the instance with NonDurableTaskAwaitedException's message.</summary>
    [Fact]
    public async Task Orchestrator_AwaitsTaskRun_FailsWithNonDurableTaskAwaited()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        using var release = new ManualResetEventSlim();
        h.Registry
            .AddActivityFunc<int, int>("One", (_, x) => x)
            .AddOrchestratorFunc<object?, int>("Runner", async (ctx, _) =>
            {
                int one = await ctx.CallActivityAsync<int>("One", 1);
                return one + await Task.Run(() =>
                {
                    release.Wait(TimeSpan.FromMinutes(1));
                    return 1;
                });
            });

        OrchestrationMetadata meta;
        try
        {
            meta = await h.RunAsync("Runner");
        }
        finally
        {
            release.Set();
        }

        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorMessage.Should().Be(NonDurableTaskAwaitedException.DefaultMessage);
    }

    /// <summary>Proves an orchestrator that throws fails the instance with the exception's type and message, and no output.</summary>
    [Fact]
    public async Task Orchestrator_Throws_InstanceFailedWithFailureDetails()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<int, int>("Check", (_, x) => x)
            .AddOrchestratorFunc<int, string>("Validator", async (ctx, x) =>
            {
                int checkedValue = await ctx.CallActivityAsync<int>("Check", x);
                return checkedValue < 0 ? Throw<string>(new ArgumentOutOfRangeException(nameof(x), checkedValue, "x must not be negative.")) : "fine";
            });

        OrchestrationMetadata meta = await h.RunAsync("Validator", -5);

        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.SerializedOutput.Should().BeNull();
        meta.FailureDetails!.ErrorType.Should().Be("System.ArgumentOutOfRangeException");
        meta.FailureDetails.ErrorMessage.Should().Contain("x must not be negative.");
        meta.FailureDetails.StackTrace.Should().NotBeNullOrEmpty();
    }

    /// <summary>Proves NewGuid and CurrentUtcDateTime return the same values on every replay, and IsReplaying is true exactly while
    /// recorded history is re-run: with every step replaying the whole history, and with the replay cache.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task NewGuidAndCurrentUtcDateTime_StableAcrossReplay(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        var seen = new List<(int Point, Guid Guid, DateTime Time, bool Replaying)>();
        h.Registry
            .AddActivityFunc<object?, string>("Noop", (_, _) => "ok")
            .AddOrchestratorFunc<object?, string>("Stable", async (ctx, _) =>
            {
                Guid g1 = ctx.NewGuid();
                seen.Add((1, g1, ctx.CurrentUtcDateTime, ctx.IsReplaying));
                await ctx.CreateTimer(TimeSpan.FromMinutes(10));
                Guid g2 = ctx.NewGuid();
                seen.Add((2, g2, ctx.CurrentUtcDateTime, ctx.IsReplaying));
                await ctx.CallActivityAsync<string>("Noop");
                Guid g3 = ctx.NewGuid();
                seen.Add((3, g3, ctx.CurrentUtcDateTime, ctx.IsReplaying));
                return $"{g1}|{g2}|{g3}";
            });

        string id = await h.StartAsync("Stable");
        await h.AdvanceAsync(TimeSpan.FromHours(1));

        string[] guids = OutputOf<string>(await h.GetAsync(id))!.Split('|');
        guids.Should().OnlyHaveUniqueItems();
        foreach (int point in new[] { 1, 2, 3 })
        {
            var atPoint = seen.Where(s => s.Point == point).ToList();
            atPoint.Select(s => s.Guid.ToString()).Should().AllBe(guids[point - 1], "point {0} must see the same GUID on every run", point);
            atPoint.Select(s => s.Time).Distinct().Should().ContainSingle("point {0} must see the same time on every run", point);
            atPoint[0].Replaying.Should().BeFalse("the first run of point {0} is live", point);
            atPoint.Skip(1).Where(s => !s.Replaying).Should().BeEmpty("later runs of point {0} are replays", point);
        }

        seen.Where(s => s.Point == 1).Select(s => s.Time).First().Should().Be(T0);
        seen.Where(s => s.Point == 2).Select(s => s.Time).First().Should().Be(T0.AddMinutes(10));
        int expectedRunsOfPoint1 = forceFullReplay ? 3 : 1; // start, timer fired, activity result
        seen.Count(s => s.Point == 1).Should().Be(expectedRunsOfPoint1);
    }

    /// <summary>Proves the replay-safe logger writes each line exactly once even when every step replays the whole history.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CreateReplaySafeLogger_WritesEachLineOnce(bool forceFullReplay)
    {
        EngineHarness h = await this.CreateHarnessAsync(forceFullReplay);
        int codeRuns = 0;
        h.Registry
            .AddActivityFunc<object?, string>("Noop", (_, _) => "ok")
            .AddOrchestratorFunc<object?, string>("Chatty", async (ctx, _) =>
            {
                codeRuns++;
                ILogger log = ctx.CreateReplaySafeLogger("Conformance.Chatty");
                log.LogInformation("started {Instance}", ctx.InstanceId);
                await ctx.CallActivityAsync<string>("Noop");
                log.LogInformation("after activity");
                await ctx.CreateTimer(TimeSpan.FromMinutes(1));
                log.LogInformation("after timer");
                return "ok";
            });

        string id = await h.StartAsync("Chatty");
        await h.AdvanceAsync(TimeSpan.FromMinutes(5));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("ok");
        h.Logs.ForCategory("Conformance.Chatty").Select(e => e.Message).Should().Equal($"started {id}", "after activity", "after timer");
        codeRuns.Should().Be(forceFullReplay ? 3 : 1, "the test must actually replay when the cache is off");
    }
}
