using Kestrel.Cloud.Durable.History;

namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>Durable timers.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>Proves CreateTimer(DateTime) fires at that time, not a tick earlier, and CurrentUtcDateTime then reads the fire time.</summary>
    [Fact]
    public async Task CreateTimer_DateTime_FiresAtThatTimeAndNotBefore()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, DateTime>("AlarmClock", async (ctx, _) =>
        {
            await ctx.CreateTimer(ctx.CurrentUtcDateTime.AddMinutes(30), CancellationToken.None);
            return ctx.CurrentUtcDateTime;
        });

        string id = await h.StartAsync("AlarmClock");
        await h.AdvanceAsync(TimeSpan.FromMinutes(30) - TimeSpan.FromSeconds(1));
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.AdvanceAsync(TimeSpan.FromSeconds(1));

        OutputOf<DateTime>(await h.GetAsync(id)).Should().Be(T0.AddMinutes(30));
        (await HistoryOfAsync<TimerFiredEvent>(h, id)).Should().ContainSingle().Which.FireAt.Should().Be(T0.AddMinutes(30));
    }

    /// <summary>Proves CreateTimer(TimeSpan) fires after the delay measured from CurrentUtcDateTime, and consecutive timers add up.</summary>
    [Fact]
    public async Task CreateTimer_TimeSpan_FiresAfterTheDelay()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, string>("Naps", async (ctx, _) =>
        {
            await ctx.CreateTimer(TimeSpan.FromHours(2));
            DateTime first = ctx.CurrentUtcDateTime;
            await ctx.CreateTimer(TimeSpan.FromMinutes(15));
            return $"{first:O}|{ctx.CurrentUtcDateTime:O}";
        });

        string id = await h.StartAsync("Naps");
        await h.AdvanceAsync(TimeSpan.FromDays(1));

        OutputOf<string>(await h.GetAsync(id)).Should().Be($"{T0.AddHours(2):O}|{T0.AddHours(2).AddMinutes(15):O}");
        (await HistoryOfAsync<TimerCreatedEvent>(h, id)).Select(t => t.FireAt).Should().Equal(T0.AddHours(2), T0.AddHours(2).AddMinutes(15));
    }

    /// <summary>Proves a timer that came due while no worker ran fires after a restart (the timer is durable, not held in memory).</summary>
    [Fact]
    public async Task CreateTimer_DueWhileNoWorkerRuns_FiresAfterRestart()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry
            .AddActivityFunc<string, string>("Wake", (_, s) => s + " woke")
            .AddOrchestratorFunc<string, string>("Sleeper", async (ctx, name) =>
            {
                await ctx.CreateTimer(TimeSpan.FromHours(1));
                return await ctx.CallActivityAsync<string>("Wake", name);
            });

        string id = await h.StartAsync("Sleeper", "bear");
        await h.RunUntilIdleAsync();

        h.Clock.Advance(TimeSpan.FromHours(3)); // the process is down: nothing runs while the timer comes due
        await h.RestartAsync();
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        await h.RunUntilIdleAsync();

        OutputOf<string>(await h.GetAsync(id)).Should().Be("bear woke");
    }

    /// <summary>Proves a scheduled start (StartAt) keeps the instance Pending until its time, then runs it.</summary>
    [Fact]
    public async Task ScheduleNewOrchestrationInstanceAsync_StartAt_StaysPendingUntilDue()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        h.Registry.AddOrchestratorFunc<object?, DateTime>("Later", (ctx, _) => Task.FromResult(ctx.CurrentUtcDateTime));

        string id = await h.Client.ScheduleNewOrchestrationInstanceAsync("Later", null, new StartOrchestrationOptions(StartAt: new DateTimeOffset(T0.AddMinutes(10))));
        await h.AdvanceAsync(TimeSpan.FromMinutes(9));
        (await h.GetAsync(id)).RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Pending);
        await h.AdvanceAsync(TimeSpan.FromMinutes(1));

        OutputOf<DateTime>(await h.GetAsync(id)).Should().Be(T0.AddMinutes(10));
    }
}
