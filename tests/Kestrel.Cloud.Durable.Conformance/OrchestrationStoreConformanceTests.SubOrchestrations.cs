using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>Sub-orchestrations: success, failure propagation, instance id conflicts, retries.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>Proves a sub-orchestration's output reaches the parent and the child records its parent.</summary>
    [Fact]
    public async Task CallSubOrchestratorAsync_ChildCompletes_ParentReceivesOutput()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<int, int>("Double", (_, x) => x * 2)
            .AddOrchestratorFunc<int, int>("Child", async (ctx, x) => await ctx.CallActivityAsync<int>("Double", x))
            .AddOrchestratorFunc<int, int>("Parent", async (ctx, x) => await ctx.CallSubOrchestratorAsync<int>("Child", x) + 1);

        OrchestrationMetadata parent = await h.RunAsync("Parent", 20);

        OutputOf<int>(parent).Should().Be(41);
        SubOrchestrationCreatedEvent created = (await HistoryOfAsync<SubOrchestrationCreatedEvent>(h, parent.InstanceId)).Should().ContainSingle().Subject;
        OrchestrationMetadata child = await h.GetAsync(created.InstanceId);
        child.ParentInstanceId.Should().Be(parent.InstanceId);
        OutputOf<int>(child).Should().Be(40);
    }

    /// <summary>Proves a failing sub-orchestration surfaces in the parent as TaskFailedException with the child's error type and message.</summary>
    [Fact]
    public async Task CallSubOrchestratorAsync_ChildFails_ParentCatchesTaskFailedException()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddOrchestratorFunc<object?, string>("BrokenChild", (_, _) => Task.FromResult(Throw<string>(new InvalidOperationException("child broke"))))
            .AddOrchestratorFunc<object?, string>("Parent", async (ctx, _) =>
            {
                try
                {
                    return await ctx.CallSubOrchestratorAsync<string>("BrokenChild");
                }
                catch (TaskFailedException ex)
                {
                    return $"{ex.TaskName}|{ex.FailureDetails.ErrorType}|{ex.FailureDetails.ErrorMessage}";
                }
            });

        OrchestrationMetadata parent = await h.RunAsync("Parent");

        OutputOf<string>(parent).Should().Be("BrokenChild|System.InvalidOperationException|child broke");
        string childId = (await HistoryOfAsync<SubOrchestrationCreatedEvent>(h, parent.InstanceId)).Single().InstanceId;
        (await h.GetAsync(childId)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
    }

    /// <summary>Proves an uncaught sub-orchestration failure fails the parent, with the child's failure as the inner failure.</summary>
    [Fact]
    public async Task CallSubOrchestratorAsync_ChildFailureUncaught_ParentFails()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddOrchestratorFunc<object?, string>("BrokenChild", (_, _) => Task.FromResult(Throw<string>(new NotSupportedException("not here"))))
            .AddOrchestratorFunc<object?, string>("Parent", async (ctx, _) => await ctx.CallSubOrchestratorAsync<string>("BrokenChild"));

        OrchestrationMetadata parent = await h.RunAsync("Parent");

        parent.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        parent.FailureDetails!.IsCausedBy<NotSupportedException>().Should().BeTrue();
    }

    /// <summary>Proves starting a sub-orchestration under the id of a running instance fails the call with OrchestrationAlreadyExistsException
    /// and leaves the running instance untouched.</summary>
    [Fact]
    public async Task CallSubOrchestratorAsync_InstanceIdAlreadyRunning_ParentGetsAlreadyExistsFailure()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddOrchestratorFunc<string, string>("Blocker", async (ctx, input) => input + "+" + await ctx.WaitForExternalEvent<string>("release"))
            .AddOrchestratorFunc<object?, string>("Parent", async (ctx, _) =>
            {
                try
                {
                    return await ctx.CallSubOrchestratorAsync<string>("Blocker", "from parent", new SubOrchestrationOptions(instanceId: "shared-child"));
                }
                catch (TaskFailedException ex)
                {
                    return $"{ex.FailureDetails.ErrorType}|{ex.FailureDetails.ErrorMessage}";
                }
            });

        await h.StartAsync("Blocker", "original", "shared-child");
        await h.RunUntilIdleAsync();
        OrchestrationMetadata parent = await h.RunAsync("Parent");

        string output = OutputOf<string>(parent)!;
        output.Should().StartWith(typeof(OrchestrationAlreadyExistsException).FullName + "|");
        output.Should().Contain("shared-child");

        OrchestrationMetadata blocker = await h.GetAsync("shared-child");
        blocker.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        blocker.ParentInstanceId.Should().BeNull();
        await h.Client.RaiseEventAsync("shared-child", "release", "event");
        await h.RunUntilIdleAsync();
        OutputOf<string>(await h.GetAsync("shared-child")).Should().Be("original+event");
    }

    /// <summary>Proves a sub-orchestration retried by policy restarts under the same instance id after its failed first attempt.</summary>
    [Fact]
    public async Task CallSubOrchestratorAsync_RetryPolicy_RestartsFailedChildUnderSameId()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        int calls = 0;
        h.Registry
            .AddActivityFunc<object?, string>("FailsOnce", (_, _) => ++calls == 1 ? Throw<string>(new InvalidOperationException("first call fails")) : "second call works")
            .AddOrchestratorFunc<object?, string>("Child", async (ctx, _) => await ctx.CallActivityAsync<string>("FailsOnce"))
            .AddOrchestratorFunc<object?, string>("Parent", async (ctx, _) =>
                await ctx.CallSubOrchestratorAsync<string>("Child", null, new SubOrchestrationOptions(new RetryPolicy(3, TimeSpan.FromMinutes(1)), "retried-child")));

        string id = await h.StartAsync("Parent");
        await h.RunUntilIdleAsync();
        (await h.GetAsync("retried-child")).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        await h.AdvanceAsync(TimeSpan.FromMinutes(1));

        OutputOf<string>(await h.GetAsync(id)).Should().Be("second call works");
        OutputOf<string>(await h.GetAsync("retried-child")).Should().Be("second call works");
        (await HistoryOfAsync<SubOrchestrationCreatedEvent>(h, id)).Select(e => e.InstanceId).Should().Equal("retried-child", "retried-child");
    }
}
