namespace Kestrel.Cloud.Durable.Conformance;

/// <summary>Querying instances: filters, ordering and continuation-token paging.</summary>
public abstract partial class OrchestrationStoreConformanceTests
{
    /// <summary>Proves paging over 25 instances with page size 10 gives pages of 10, 10 and 5, ordered by creation time then id,
    /// with a token on every page but the last and no instance twice.</summary>
    [Fact]
    public async Task QueryInstancesAsync_25InstancesPageSize10_PagesWithContinuationTokens()
    {
        EngineHarness h = await this.CreateQueryFixtureAsync();

        List<Page<OrchestrationMetadata>> pages = await QueryAllPagesAsync(h, new OrchestrationQuery { PageSize = 10 });

        pages.Select(p => p.Values.Count).Should().Equal(10, 10, 5);
        pages.Select(p => p.ContinuationToken is null).Should().Equal(false, false, true);
        pages.SelectMany(p => p.Values).Select(m => m.InstanceId).Should().Equal(ExpectedQueryOrder());
    }

    /// <summary>Proves a status filter pages over only matching instances, and a filter matching exactly one page returns no token.</summary>
    [Fact]
    public async Task QueryInstancesAsync_ByStatus_PagesOverMatchingInstancesOnly()
    {
        EngineHarness h = await this.CreateQueryFixtureAsync();

        List<Page<OrchestrationMetadata>> completed = await QueryAllPagesAsync(h, new OrchestrationQuery
        {
            Statuses = [OrchestrationRuntimeStatus.Completed],
            PageSize = 10,
        });
        List<Page<OrchestrationMetadata>> running = await QueryAllPagesAsync(h, new OrchestrationQuery
        {
            Statuses = [OrchestrationRuntimeStatus.Running],
            PageSize = 10,
        });

        completed.Select(p => p.Values.Count).Should().Equal(10, 5);
        completed.SelectMany(p => p.Values).Should().OnlyContain(m => m.RuntimeStatus == OrchestrationRuntimeStatus.Completed);
        running.Should().ContainSingle("ten running instances fill exactly one page")
            .Which.ContinuationToken.Should().BeNull();
        running[0].Values.Should().HaveCount(10).And.OnlyContain(m => m.RuntimeStatus == OrchestrationRuntimeStatus.Running);
    }

    /// <summary>Proves the name prefix filter is case-insensitive and the instance id prefix filter is ordinal (case-sensitive).</summary>
    [Fact]
    public async Task QueryInstancesAsync_ByNameAndInstanceIdPrefix_MatchesOnlyThoseInstances()
    {
        EngineHarness h = await this.CreateQueryFixtureAsync();

        List<OrchestrationMetadata> reports = await QueryAllAsync(h, new OrchestrationQuery { NamePrefix = "report.", PageSize = 3 });
        List<OrchestrationMetadata> tenantA = await QueryAllAsync(h, new OrchestrationQuery { InstanceIdPrefix = "tenantA-", PageSize = 4 });
        List<OrchestrationMetadata> lowerCase = await QueryAllAsync(h, new OrchestrationQuery { InstanceIdPrefix = "tenanta-" });

        reports.Should().HaveCount(20).And.OnlyContain(m => m.Name.StartsWith("Report.", StringComparison.Ordinal));
        tenantA.Select(m => m.InstanceId).Should().Equal(ExpectedQueryOrder().Where(id => id.StartsWith("tenantA-", StringComparison.Ordinal)));
        lowerCase.Should().BeEmpty();
    }

    /// <summary>Proves the creation time filter includes CreatedFrom, excludes CreatedTo, and pages across instances created at different times.</summary>
    [Fact]
    public async Task QueryInstancesAsync_ByCreationTime_HonoursTheRangeAndPages()
    {
        EngineHarness h = await this.CreateQueryFixtureAsync();

        List<OrchestrationMetadata> middle = await QueryAllAsync(h, new OrchestrationQuery
        {
            CreatedFrom = new DateTimeOffset(T0.AddHours(1)),
            CreatedTo = new DateTimeOffset(T0.AddHours(2)),
            PageSize = 3,
        });
        List<OrchestrationMetadata> fromSecondHour = await QueryAllAsync(h, new OrchestrationQuery { CreatedFrom = new DateTimeOffset(T0.AddHours(1)), PageSize = 7 });

        middle.Should().HaveCount(10).And.OnlyContain(m => m.CreatedAt == new DateTimeOffset(T0.AddHours(1)));
        fromSecondHour.Select(m => m.InstanceId).Should().Equal(ExpectedQueryOrder().Skip(10));
    }

    /// <summary>Proves combined filters intersect, inputs are returned only when asked, and a malformed continuation token is rejected clearly.</summary>
    [Fact]
    public async Task QueryInstancesAsync_CombinedFiltersInputsAndBadToken_BehaveAsDocumented()
    {
        EngineHarness h = await this.CreateQueryFixtureAsync();

        Page<OrchestrationMetadata> withInputs = await h.Client.QueryInstancesAsync(new OrchestrationQuery
        {
            NamePrefix = "Cleanup",
            Statuses = [OrchestrationRuntimeStatus.Completed],
            FetchInputsAndOutputs = true,
        });
        Page<OrchestrationMetadata> withoutInputs = await h.Client.QueryInstancesAsync(new OrchestrationQuery { NamePrefix = "Cleanup" });
        Func<Task> badToken = () => h.Client.QueryInstancesAsync(new OrchestrationQuery { ContinuationToken = "not a token" });

        withInputs.Values.Should().HaveCount(5).And.OnlyContain(m => m.Name == "Cleanup" && m.SerializedInput != null && m.SerializedOutput != null);
        withoutInputs.Values.Should().HaveCount(5).And.OnlyContain(m => m.SerializedInput == null && m.SerializedOutput == null);
        (await badToken.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("continuation token is not valid");
    }

    /// <summary>The ids of the query fixture in creation-time-then-id order.</summary>
    private static IEnumerable<string> ExpectedQueryOrder() =>
        Enumerable.Range(0, 25)
            .Select(i => (Hour: i / 10, Id: QueryFixtureId(i)))
            .OrderBy(x => x.Hour).ThenBy(x => x.Id, StringComparer.Ordinal)
            .Select(x => x.Id);

    private static string QueryFixtureId(int i) => $"{(i % 2 == 0 ? "tenantA" : "tenantB")}-{i:D2}";

    private static async Task<List<Page<OrchestrationMetadata>>> QueryAllPagesAsync(EngineHarness h, OrchestrationQuery query)
    {
        var pages = new List<Page<OrchestrationMetadata>>();
        for (int i = 0; i < 100; i++)
        {
            Page<OrchestrationMetadata> page = await h.Client.QueryInstancesAsync(query);
            pages.Add(page);
            if (page.ContinuationToken is null)
            {
                return pages;
            }

            query = query with { ContinuationToken = page.ContinuationToken };
        }

        throw new Xunit.Sdk.XunitException("Paging did not end after 100 pages.");
    }

    private static async Task<List<OrchestrationMetadata>> QueryAllAsync(EngineHarness h, OrchestrationQuery query) =>
        (await QueryAllPagesAsync(h, query)).SelectMany(p => p.Values).ToList();

    /// <summary>
    /// 25 instances: ids tenantA-00, tenantB-01, ... tenantA-24 (even i are tenantA). Instance i is created at
    /// T0 + (i / 10) hours: 10 at T0, 10 at T0 + 1 h, 5 at T0 + 2 h. Names and statuses: i &lt; 10 Report.Daily,
    /// Completed; 10 ≤ i &lt; 20 Report.Weekly, Running; i ≥ 20 Cleanup, Completed (15 Completed, 10 Running).
    /// </summary>
    private async Task<EngineHarness> CreateQueryFixtureAsync()
    {
        EngineHarness h = await this.CreateHarnessAsync();
        Func<TaskOrchestrationContext, bool, Task<string>> body = async (ctx, finish) =>
            finish ? "done" : await ctx.WaitForExternalEvent<string>("never");
        h.Registry
            .AddOrchestratorFunc<bool, string>("Report.Daily", body)
            .AddOrchestratorFunc<bool, string>("Report.Weekly", body)
            .AddOrchestratorFunc<bool, string>("Cleanup", body);

        // Created in reverse id order within each hour, so ordering by id is visible in the results.
        for (int hour = 0; hour < 3; hour++)
        {
            foreach (int i in Enumerable.Range(0, 25).Where(i => i / 10 == hour).Reverse())
            {
                string name = i < 10 ? "Report.Daily" : i < 20 ? "Report.Weekly" : "Cleanup";
                bool finish = i < 10 || i >= 20;
                await h.StartAsync(name, finish, QueryFixtureId(i));
            }

            await h.RunUntilIdleAsync();
            if (hour < 2)
            {
                await h.AdvanceAsync(TimeSpan.FromHours(1));
            }
        }

        return h;
    }
}
