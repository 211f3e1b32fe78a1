namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>Names, payload and history limits.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>Proves the client refuses an unknown orchestration name with TaskNotRegisteredException listing the registered names, creating nothing.</summary>
    [Fact]
    public async Task ScheduleNewOrchestrationInstanceAsync_UnknownName_ThrowsTaskNotRegisteredListingNames()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddOrchestratorFunc<object?, string>("Beta", (_, _) => Task.FromResult("b"))
            .AddOrchestratorFunc<object?, string>("Alpha", (_, _) => Task.FromResult("a"));

        Func<Task> start = () => h.StartAsync("Gamma", null, "never-created");

        (await start.Should().ThrowAsync<TaskNotRegisteredException>()).Which.Message.Should()
            .Contain("'Gamma'").And.Contain("Alpha, Beta");
        (await h.Client.GetInstanceAsync("never-created")).Should().BeNull();
    }

    /// <summary>Proves a sub-orchestration with an unknown name fails the parent's call with TaskNotRegisteredException.</summary>
    [Fact]
    public async Task CallSubOrchestratorAsync_UnknownName_ParentGetsTaskNotRegisteredFailure()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Parent", async (ctx, _) =>
        {
            try
            {
                return await ctx.CallSubOrchestratorAsync<string>("Ghost");
            }
            catch (TaskFailedException ex)
            {
                return ex.FailureDetails.ErrorType + "|" + ex.FailureDetails.ErrorMessage;
            }
        });

        string output = OutputOf<string>(await h.RunAsync("Parent"))!;

        output.Should().StartWith(typeof(TaskNotRegisteredException).FullName + "|").And.Contain("'Ghost'").And.Contain("Parent");
    }

    /// <summary>Proves client payloads over MaxPayloadSizeBytes (input, event) are refused with PayloadTooLargeException naming the limit.</summary>
    [Fact]
    public async Task Client_PayloadOverLimit_ThrowsPayloadTooLarge()
    {
        EngineHarness h = await this.CreateHarnessAsync(o => o.MaxPayloadSizeBytes = 1024);
        h.Registry.AddOrchestratorFunc<string, string>("Waiter", async (ctx, _) => await ctx.WaitForExternalEvent<string>("e"));
        string big = new('x', 2000);

        Func<Task> start = () => h.StartAsync("Waiter", big, "too-big");
        string id = await h.StartAsync("Waiter", "small");
        Func<Task> raise = () => h.Client.RaiseEventAsync(id, "e", big);

        (await start.Should().ThrowAsync<PayloadTooLargeException>()).Which.Message.Should()
            .Contain("orchestration input").And.Contain("1024").And.Contain("MaxPayloadSizeBytes");
        (await h.Client.GetInstanceAsync("too-big")).Should().BeNull();
        (await raise.Should().ThrowAsync<PayloadTooLargeException>()).Which.Message.Should().Contain("payload of event 'e'");
    }

    /// <summary>Proves an activity output over MaxPayloadSizeBytes fails the activity call with a PayloadTooLargeException failure.</summary>
    [Fact]
    public async Task CallActivityAsync_OutputOverLimit_FailsWithPayloadTooLarge()
    {
        EngineHarness h = await this.CreateHarnessAsync(o => o.MaxPayloadSizeBytes = 1024);
        h.Registry
            .AddActivityFunc<int, string>("Big", (_, n) => new string('x', n))
            .AddOrchestratorFunc<object?, string>("WantsBig", async (ctx, _) =>
            {
                try
                {
                    return await ctx.CallActivityAsync<string>("Big", 5000);
                }
                catch (TaskFailedException ex)
                {
                    return ex.FailureDetails.ErrorType + "|" + ex.FailureDetails.ErrorMessage;
                }
            });

        string output = OutputOf<string>(await h.RunAsync("WantsBig"))!;

        output.Should().StartWith(typeof(PayloadTooLargeException).FullName + "|").And.Contain("output of activity 'Big'").And.Contain("1024");
    }

    /// <summary>Proves an orchestration output or custom status over its limit fails the instance with PayloadTooLargeException.</summary>
    [Fact]
    public async Task Orchestrator_OutputOrCustomStatusOverLimit_FailsInstance()
    {
        EngineHarness h = await this.CreateHarnessAsync(o =>
        {
            o.MaxPayloadSizeBytes = 1024;
            o.MaxCustomStatusSizeBytes = 64;
        });
        h.Registry
            .AddOrchestratorFunc<object?, string>("BigOutput", (_, _) => Task.FromResult(new string('y', 3000)))
            .AddOrchestratorFunc<object?, string>("BigStatus", (ctx, _) =>
            {
                ctx.SetCustomStatus(new string('z', 100));
                return Task.FromResult("unreachable");
            });

        OrchestrationMetadata output = await h.RunAsync("BigOutput");
        OrchestrationMetadata status = await h.RunAsync("BigStatus");

        output.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        output.FailureDetails!.ErrorType.Should().Be(typeof(PayloadTooLargeException).FullName);
        output.FailureDetails.ErrorMessage.Should().Contain("orchestration output");
        status.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        status.FailureDetails!.ErrorMessage.Should().Contain("custom status").And.Contain("64");
    }

    /// <summary>Proves exceeding MaxHistoryEventsPerInstance fails the instance with advice to use ContinueAsNew, and stops scheduling work.</summary>
    [Fact]
    public async Task Orchestrator_HistoryOverLimit_FailsWithContinueAsNewAdvice()
    {
        EngineHarness h = await this.CreateHarnessAsync(o => o.MaxHistoryEventsPerInstance = 10);
        int calls = 0;
        h.Registry
            .AddActivityFunc<int, int>("Step", (_, x) =>
            {
                calls++;
                return x + 1;
            })
            .AddOrchestratorFunc<object?, int>("Endless", async (ctx, _) =>
            {
                int n = 0;
                for (int i = 0; i < 20; i++)
                {
                    n = await ctx.CallActivityAsync<int>("Step", n);
                }

                return n;
            });

        OrchestrationMetadata meta = await h.RunAsync("Endless");

        meta.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        meta.FailureDetails!.ErrorMessage.Should().Contain("MaxHistoryEventsPerInstance").And.Contain("ContinueAsNew").And.Contain("10");
        calls.Should().BeLessThan(5, "no work is scheduled once the limit is hit");
        (await h.Client.GetHistoryAsync(meta.InstanceId)).Count.Should().BeLessThanOrEqualTo(12);
    }
}
