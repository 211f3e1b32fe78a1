using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>Activities: chains, fan-out/fan-in, class-based and delegate registration, failures and retries.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>Proves a chain of activities runs in order, each receiving the previous result.</summary>
    [Fact]
    public async Task CallActivityAsync_Chain_PassesEachResultToTheNext()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<string, string>("Append", (ctx, s) => $"{s}>{ctx.TaskId}")
            .AddOrchestratorFunc<string, string>("Chain", async (ctx, s) =>
            {
                string a = await ctx.CallActivityAsync<string>("Append", s);
                string b = await ctx.CallActivityAsync<string>("Append", a);
                return await ctx.CallActivityAsync<string>("Append", b);
            });

        OrchestrationMetadata meta = await h.RunAsync("Chain", "start");

        OutputOf<string>(meta).Should().Be("start>0>1>2");
        (await HistoryOfAsync<TaskCompletedEvent>(h, meta.InstanceId)).Should().HaveCount(3);
    }

    /// <summary>Proves fan-out/fan-in with Task.WhenAll schedules every activity in one step and returns results in call order.</summary>
    [Fact]
    public async Task CallActivityAsync_FanOutWhenAll_CollectsEveryResultInCallOrder()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<int, int>("Square", (_, x) => x * x)
            .AddOrchestratorFunc<int, string>("FanOut", async (ctx, n) =>
            {
                int[] squares = await Task.WhenAll(Enumerable.Range(1, n).Select(i => ctx.CallActivityAsync<int>("Square", i)));
                return string.Join(",", squares);
            });

        string id = await h.StartAsync("FanOut", 10);
        await h.Worker.TryProcessNextOrchestrationAsync();
        (await HistoryOfAsync<TaskScheduledEvent>(h, id)).Should().HaveCount(10, "all ten activities are scheduled by the first step");
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("1,4,9,16,25,36,49,64,81,100");
    }

    /// <summary>Proves Task.WhenAny between an activity and a cancellable timer lets the activity win and completes without waiting for the timer.</summary>
    [Fact]
    public async Task CallActivityAsync_WhenAnyWithTimer_ActivityWinsAndCancelledTimerDoesNotBlock()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<string, string>("Echo", (_, s) => s)
            .AddOrchestratorFunc<object?, string>("Race", async (ctx, _) =>
            {
                using var cts = new CancellationTokenSource();
                Task<string> work = ctx.CallActivityAsync<string>("Echo", "activity");
                Task deadline = ctx.CreateTimer(TimeSpan.FromHours(1), cts.Token);
                if (await Task.WhenAny(work, deadline) == work)
                {
                    cts.Cancel();
                    return await work;
                }

                return "deadline";
            });

        OrchestrationMetadata meta = await h.RunAsync("Race");

        OutputOf<string>(meta).Should().Be("activity");
        meta.LastUpdatedAt.UtcDateTime.Should().Be(T0, "the instance finished without the clock moving");

        // The cancelled timer still fires later; it reaches a finished instance and changes nothing.
        await h.AdvanceAsync(TimeSpan.FromHours(2));
        (await h.GetAsync(meta.InstanceId)).ReadOutputAs<string>().Should().Be("activity");
    }

    /// <summary>Proves Task.WhenAny between an external event and a timer lets the timer win when the event never comes.</summary>
    [Fact]
    public async Task WhenAny_TimerBeforeEvent_TimerWins()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Deadline", async (ctx, _) =>
        {
            Task<string> approval = ctx.WaitForExternalEvent<string>("approval");
            Task deadline = ctx.CreateTimer(TimeSpan.FromHours(1));
            return await Task.WhenAny(approval, deadline) == approval ? await approval : "deadline passed";
        });

        string id = await h.StartAsync("Deadline");
        await h.AdvanceAsync(TimeSpan.FromMinutes(59));
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.AdvanceAsync(TimeSpan.FromMinutes(1));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("deadline passed");
    }

    /// <summary>Proves class-based TaskOrchestrator/TaskActivity run through AddOrchestrator/AddActivity, names are case-insensitive,
    /// and the activity context carries name, task id and instance id.</summary>
    [Fact]
    public async Task AddOrchestratorAndAddActivity_ClassBased_RunUnderTheirClassNames()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestrator<GreetingOrchestrator>().AddActivity<GreetActivity>();

        OrchestrationMetadata meta = await h.RunAsync("greetingorchestrator", "Ada", instanceId: "greet-1");

        meta.Name.Should().Be(nameof(GreetingOrchestrator), "the registered spelling is stored");
        OutputOf<string>(meta).Should().Be("Hello, Ada! (GreetActivity #0 for greet-1)");
    }

    /// <summary>Proves an activity's exception reaches the orchestrator as TaskFailedException carrying the original error type and message.</summary>
    [Fact]
    public async Task CallActivityAsync_ActivityThrows_OrchestratorCatchesTaskFailedExceptionWithDetails()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<string, string>("Explode", (_, s) => Throw<string>(new InvalidOperationException($"boom: {s}")))
            .AddOrchestratorFunc<object?, string>("CatchIt", async (ctx, _) =>
            {
                try
                {
                    await ctx.CallActivityAsync<string>("Explode", "fuse");
                    return "no failure";
                }
                catch (TaskFailedException ex)
                {
                    return $"{ex.TaskName}|{ex.FailureDetails.ErrorType}|{ex.FailureDetails.ErrorMessage}";
                }
            });

        OrchestrationMetadata meta = await h.RunAsync("CatchIt");

        OutputOf<string>(meta).Should().Be("Explode|System.InvalidOperationException|boom: fuse");
        (await HistoryOfAsync<TaskFailedEvent>(h, meta.InstanceId)).Should().ContainSingle()
            .Which.FailureDetails.ErrorType.Should().Be("System.InvalidOperationException");
    }

    /// <summary>Proves an uncaught activity failure fails the instance with a TaskFailedException whose inner failure is the activity's error.</summary>
    [Fact]
    public async Task CallActivityAsync_ActivityFailureUncaught_InstanceFailsWithInnerFailure()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<string, string>("Explode", (_, _) => Throw<string>(new FormatException("bad format")))
            .AddOrchestratorFunc<object?, string>("DontCatch", async (ctx, _) => await ctx.CallActivityAsync<string>("Explode", "x"));

        OrchestrationMetadata meta = await h.RunAsync("DontCatch");

        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorType.Should().Be(typeof(TaskFailedException).FullName);
        meta.FailureDetails.ErrorMessage.Should().Contain("Explode").And.Contain("bad format");
        meta.FailureDetails.InnerFailure!.ErrorType.Should().Be("System.FormatException");
        meta.FailureDetails.IsCausedBy<FormatException>().Should().BeTrue();
    }

    /// <summary>Proves calling an activity nobody registered fails the call with TaskNotRegisteredException listing the registered activities.</summary>
    [Fact]
    public async Task CallActivityAsync_UnknownActivity_FailsWithTaskNotRegisteredListingNames()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<int, int>("Known", (_, x) => x)
            .AddOrchestratorFunc<object?, string>("CallsMissing", async (ctx, _) =>
            {
                try
                {
                    await ctx.CallActivityAsync<int>("Missing", 1);
                    return "called";
                }
                catch (TaskFailedException ex)
                {
                    return $"{ex.FailureDetails.ErrorType}|{ex.FailureDetails.ErrorMessage}";
                }
            });

        string output = OutputOf<string>(await h.RunAsync("CallsMissing"))!;

        output.Should().StartWith(typeof(TaskNotRegisteredException).FullName + "|");
        output.Should().Contain("'Missing'").And.Contain("Known");
    }

    /// <summary>Proves a retried activity runs again after durable timers whose fire times follow first interval × backoff coefficient.</summary>
    [Fact]
    public async Task CallActivityAsync_RetryPolicy_RetriesAtBackoffTimesUntilSuccess()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        var attempts = new List<DateTime>();
        h.Registry
            .AddActivityFunc<int, string>("Flaky", (_, failures) =>
            {
                attempts.Add(h.Now);
                return attempts.Count <= failures ? Throw<string>(new TimeoutException($"attempt {attempts.Count} timed out")) : $"ok on attempt {attempts.Count}";
            })
            .AddOrchestratorFunc<int, string>("Retrying", async (ctx, failures) =>
                await ctx.CallActivityAsync<string>("Flaky", failures, TaskOptions.FromRetryPolicy(new RetryPolicy(5, TimeSpan.FromSeconds(10), backoffCoefficient: 2.0))));

        string id = await h.StartAsync("Retrying", 2);
        await h.AdvanceAsync(TimeSpan.FromMinutes(5));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("ok on attempt 3");
        attempts.Should().Equal(T0, T0.AddSeconds(10), T0.AddSeconds(30));
        (await HistoryOfAsync<TimerCreatedEvent>(h, id)).Select(t => t.FireAt).Should().Equal(T0.AddSeconds(10), T0.AddSeconds(30));
    }

    /// <summary>Proves MaxRetryInterval caps each delay and MaxNumberOfAttempts stops retrying, surfacing the last failure.</summary>
    [Fact]
    public async Task CallActivityAsync_RetryPolicy_CapsDelayAtMaxIntervalAndStopsAtMaxAttempts()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        var attempts = new List<DateTime>();
        var policy = new RetryPolicy(4, TimeSpan.FromSeconds(10), backoffCoefficient: 10.0, maxRetryInterval: TimeSpan.FromSeconds(30));
        h.Registry
            .AddActivityFunc<object?, string>("AlwaysFails", (_, _) =>
            {
                attempts.Add(h.Now);
                return Throw<string>(new InvalidOperationException($"failure {attempts.Count}"));
            })
            .AddOrchestratorFunc<object?, string>("GivesUp", async (ctx, _) =>
            {
                try
                {
                    return await ctx.CallActivityAsync<string>("AlwaysFails", null, TaskOptions.FromRetryPolicy(policy));
                }
                catch (TaskFailedException ex)
                {
                    return ex.FailureDetails.ErrorMessage;
                }
            });

        string id = await h.StartAsync("GivesUp");
        await h.AdvanceAsync(TimeSpan.FromMinutes(10));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("failure 4");
        attempts.Should().Equal(T0, T0.AddSeconds(10), T0.AddSeconds(40), T0.AddSeconds(70));
    }

    /// <summary>Proves RetryTimeout stops retrying when the next attempt would start later than the timeout after the first.</summary>
    [Fact]
    public async Task CallActivityAsync_RetryPolicy_StopsWhenRetryTimeoutWouldBeExceeded()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        var attempts = new List<DateTime>();
        var policy = new RetryPolicy(10, TimeSpan.FromSeconds(10), backoffCoefficient: 2.0, retryTimeout: TimeSpan.FromSeconds(25));
        h.Registry
            .AddActivityFunc<object?, string>("AlwaysFails", (_, _) =>
            {
                attempts.Add(h.Now);
                return Throw<string>(new InvalidOperationException($"failure {attempts.Count}"));
            })
            .AddOrchestratorFunc<object?, string>("TimesOut", async (ctx, _) =>
                await ctx.CallActivityAsync<string>("AlwaysFails", null, TaskOptions.FromRetryPolicy(policy)));

        string id = await h.StartAsync("TimesOut");
        await h.AdvanceAsync(TimeSpan.FromMinutes(10));

        OrchestrationMetadata meta = await h.GetAsync(id);
        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorMessage.Should().Contain("failure 2");

        // 0 s, then 10 s; the next delay (20 s) would end 30 s after the first attempt, past the 25 s timeout.
        attempts.Should().Equal(T0, T0.AddSeconds(10));
    }

    /// <summary>Proves a RetryPolicy whose HandleFailure rejects the failure does not retry.</summary>
    [Fact]
    public async Task CallActivityAsync_RetryPolicyHandleFailureFalse_DoesNotRetry()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        int attempts = 0;
        var policy = new RetryPolicy(5, TimeSpan.FromSeconds(1))
        {
            HandleFailure = f => !f.IsCausedBy<ArgumentException>(),
        };
        h.Registry
            .AddActivityFunc<object?, string>("Invalid", (_, _) =>
            {
                attempts++;
                return Throw<string>(new ArgumentException("not retryable"));
            })
            .AddOrchestratorFunc<object?, string>("NoRetry", async (ctx, _) =>
                await ctx.CallActivityAsync<string>("Invalid", null, TaskOptions.FromRetryPolicy(policy)));

        string id = await h.StartAsync("NoRetry");
        await h.AdvanceAsync(TimeSpan.FromMinutes(1));

        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        attempts.Should().Be(1);
    }

    /// <summary>An orchestrator registered by class, for the class-based registration test.</summary>
    public sealed class GreetingOrchestrator : TaskOrchestrator<string, string>
    {
        /// <inheritdoc/>
        public override async Task<string> RunAsync(TaskOrchestrationContext context, string input) =>
            await context.CallActivityAsync<string>(nameof(GreetActivity), input);
    }

    /// <summary>An activity registered by class, for the class-based registration test.</summary>
    public sealed class GreetActivity : TaskActivity<string, string>
    {
        /// <inheritdoc/>
        public override Task<string> RunAsync(TaskActivityContext context, string input) =>
            Task.FromResult($"Hello, {input}! ({context.Name} #{context.TaskId} for {context.InstanceId})");
    }
}
