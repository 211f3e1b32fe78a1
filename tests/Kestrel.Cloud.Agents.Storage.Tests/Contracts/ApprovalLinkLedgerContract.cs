using Kestrel.Cloud.Agents.Approvals;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Storage.Tests.Contracts;

/// <summary>What every <see cref="IApprovalLinkLedger"/> must do; subclassed once per store.</summary>
public abstract class ApprovalLinkLedgerContract : IAsyncLifetime
{
    protected ManualTimeProvider Clock { get; } = new();

    protected IApprovalLinkLedger Ledger { get; private set; } = null!;

    protected DateTimeOffset InOneHour => this.Clock.GetUtcNow().AddHours(1);

    /// <summary>A ledger on fresh, empty storage, on <see cref="Clock"/>.</summary>
    protected abstract Task<IApprovalLinkLedger> CreateLedgerAsync();

    public async Task InitializeAsync() => this.Ledger = await this.CreateLedgerAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task TryConsumeAsync_FirstUse_TrueThenFalse()
    {
        (await this.Ledger.TryConsumeAsync("link-1", this.InOneHour)).Should().BeTrue();
        (await this.Ledger.TryConsumeAsync("link-1", this.InOneHour)).Should().BeFalse();
    }

    [Fact]
    public async Task TryConsumeAsync_OtherLinks_AreIndependent()
    {
        (await this.Ledger.TryConsumeAsync("link-1", this.InOneHour)).Should().BeTrue();

        (await this.Ledger.TryConsumeAsync("link-2", this.InOneHour)).Should().BeTrue();
        (await this.Ledger.TryConsumeAsync("link-1/approve", this.InOneHour)).Should().BeTrue("ids are compared whole");
    }

    [Fact]
    public async Task TryConsumeAsync_RacingCallers_ExactlyOneWins()
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<bool>[] callers = Enumerable.Range(0, 12)
            .Select(_ => Task.Run(async () =>
            {
                await start.Task;
                return await this.Ledger.TryConsumeAsync("link-race", this.InOneHour);
            }))
            .ToArray();

        start.SetResult();
        bool[] results = await Task.WhenAll(callers).Within();

        results.Count(r => r).Should().Be(1);
    }

    [Fact]
    public async Task TryConsumeAsync_EmptyId_Throws()
    {
        await FluentActions.Awaiting(() => this.Ledger.TryConsumeAsync(string.Empty, this.InOneHour)).Should().ThrowAsync<ArgumentException>();
    }

    [Fact]
    public async Task PurgeExpiredAsync_RemovesOnlyEntriesExpiredMoreThanAnHourAgo()
    {
        DateTimeOffset start = this.Clock.GetUtcNow();
        await this.Ledger.TryConsumeAsync("old", start.AddMinutes(10));
        await this.Ledger.TryConsumeAsync("recent", start.AddMinutes(70));
        await this.Ledger.TryConsumeAsync("future", start.AddDays(1));
        this.Clock.Advance(TimeSpan.FromHours(2)); // "old" expired 110 minutes ago, "recent" 50 minutes ago

        (await this.Ledger.PurgeExpiredAsync()).Should().Be(1);

        (await this.Ledger.TryConsumeAsync("old", this.InOneHour)).Should().BeTrue("its entry was purged");
        (await this.Ledger.TryConsumeAsync("recent", this.InOneHour)).Should().BeFalse("it expired less than an hour ago");
        (await this.Ledger.TryConsumeAsync("future", this.InOneHour)).Should().BeFalse();
    }

    [Fact]
    public async Task PurgeExpiredAsync_MaxCount_BoundsOneCall()
    {
        DateTimeOffset start = this.Clock.GetUtcNow();
        await this.Ledger.TryConsumeAsync("a", start);
        await this.Ledger.TryConsumeAsync("b", start);
        this.Clock.Advance(TimeSpan.FromHours(2));

        (await this.Ledger.PurgeExpiredAsync(maxCount: 1)).Should().Be(1);
        (await this.Ledger.PurgeExpiredAsync(maxCount: 1)).Should().Be(1);
        (await this.Ledger.PurgeExpiredAsync()).Should().Be(0);
        await FluentActions.Awaiting(() => this.Ledger.PurgeExpiredAsync(maxCount: 0)).Should().ThrowAsync<ArgumentOutOfRangeException>();
    }
}

/// <summary>Extra obligations of ledgers that outlive the process.</summary>
public abstract class DurableApprovalLinkLedgerContract : ApprovalLinkLedgerContract
{
    /// <summary>A second ledger instance on the same storage (as another process would open it).</summary>
    protected abstract Task<IApprovalLinkLedger> OpenSecondInstanceAsync();

    [Fact]
    public async Task SecondInstance_SeesLinkUsedByFirst_AndRacesAcrossInstancesHaveOneWinner()
    {
        (await this.Ledger.TryConsumeAsync("link-1", this.InOneHour)).Should().BeTrue();
        IApprovalLinkLedger second = await this.OpenSecondInstanceAsync();

        (await second.TryConsumeAsync("link-1", this.InOneHour)).Should().BeFalse();

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<bool>[] callers = Enumerable.Range(0, 8)
            .Select(i => Task.Run(async () =>
            {
                await start.Task;
                return await (i % 2 == 0 ? this.Ledger : second).TryConsumeAsync("link-2", this.InOneHour);
            }))
            .ToArray();
        start.SetResult();
        (await Task.WhenAll(callers).Within()).Count(r => r).Should().Be(1);
    }
}
