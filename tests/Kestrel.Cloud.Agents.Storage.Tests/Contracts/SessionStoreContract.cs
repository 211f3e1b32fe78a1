using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Storage.Tests.Contracts;

/// <summary>What every <see cref="ISessionStore"/> must do; subclassed once per store.</summary>
public abstract class SessionStoreContract : IAsyncLifetime
{
    protected ManualTimeProvider Clock { get; } = new();

    protected ISessionStore Store { get; private set; } = null!;

    /// <summary>A store on fresh, empty storage, on <see cref="Clock"/>.</summary>
    protected abstract Task<ISessionStore> CreateStoreAsync();

    public async Task InitializeAsync() => this.Store = await this.CreateStoreAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    protected Task<StoredSession?> Save(string agent, string key, string messages, string? etag, params string[] runs) =>
        this.Store.SaveAsync(agent, key, messages, messages.Length, runs, etag);

    [Fact]
    public async Task SaveAsync_New_CreatesAndGetReturnsIt()
    {
        StoredSession? saved = await this.Save("helper", "chat-1", "[1]", null, "run-a");

        saved.Should().NotBeNull();
        saved!.ETag.Should().NotBeNullOrEmpty();
        saved.CreatedAt.Should().Be(this.Clock.GetUtcNow());
        saved.UpdatedAt.Should().Be(this.Clock.GetUtcNow());
        StoredSession? read = await this.Store.GetAsync("helper", "chat-1");
        read.Should().NotBeNull();
        read!.Agent.Should().Be("helper");
        read.Key.Should().Be("chat-1");
        read.MessagesJson.Should().Be("[1]");
        read.MessageCount.Should().Be(3);
        read.AppliedRuns.Should().Equal("run-a");
        read.ETag.Should().Be(saved.ETag);
        read.CreatedAt.Should().Be(saved.CreatedAt);
    }

    [Fact]
    public async Task SaveAsync_CreateWhenItExists_ReturnsNullAndKeepsStored()
    {
        await this.Save("helper", "chat-1", "[1]", null);

        (await this.Save("helper", "chat-1", "[2]", null)).Should().BeNull();

        (await this.Store.GetAsync("helper", "chat-1"))!.MessagesJson.Should().Be("[1]");
    }

    [Fact]
    public async Task SaveAsync_CurrentETag_ReplacesKeepsCreatedAtAndChangesETag()
    {
        StoredSession v1 = (await this.Save("helper", "chat-1", "[1]", null, "run-a"))!;
        DateTimeOffset created = this.Clock.GetUtcNow();
        this.Clock.Advance(TimeSpan.FromMinutes(3));

        StoredSession? v2 = await this.Save("helper", "chat-1", "[1,2]", v1.ETag, "run-a", "run-b");

        v2.Should().NotBeNull();
        v2!.ETag.Should().NotBe(v1.ETag);
        v2.CreatedAt.Should().Be(created);
        v2.UpdatedAt.Should().Be(created + TimeSpan.FromMinutes(3));
        StoredSession read = (await this.Store.GetAsync("helper", "chat-1"))!;
        read.MessagesJson.Should().Be("[1,2]");
        read.AppliedRuns.Should().Equal("run-a", "run-b");
        read.ETag.Should().Be(v2.ETag);
        read.CreatedAt.Should().Be(created);
    }

    [Fact]
    public async Task SaveAsync_StaleETag_ReturnsNullAndKeepsStored()
    {
        StoredSession v1 = (await this.Save("helper", "chat-1", "[1]", null))!;
        StoredSession v2 = (await this.Save("helper", "chat-1", "[2]", v1.ETag))!;

        (await this.Save("helper", "chat-1", "[3]", v1.ETag)).Should().BeNull();

        StoredSession read = (await this.Store.GetAsync("helper", "chat-1"))!;
        read.MessagesJson.Should().Be("[2]");
        read.ETag.Should().Be(v2.ETag);
    }

    [Fact]
    public async Task SaveAsync_ETagForMissingSession_ReturnsNull()
    {
        StoredSession v1 = (await this.Save("helper", "chat-1", "[1]", null))!;

        (await this.Save("helper", "chat-2", "[1]", v1.ETag)).Should().BeNull();
        (await this.Store.GetAsync("helper", "chat-2")).Should().BeNull();
    }

    [Fact]
    public async Task SaveAsync_TwoWritersSameETag_ExactlyOneWins()
    {
        StoredSession v1 = (await this.Save("helper", "chat-1", "[0]", null))!;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<StoredSession?> Writer(string messages) => Task.Run(async () =>
        {
            await start.Task;
            return await this.Save("helper", "chat-1", messages, v1.ETag);
        });

        Task<StoredSession?>[] writers = Enumerable.Range(0, 6).Select(i => Writer($"[{i}]")).ToArray();
        start.SetResult();
        StoredSession?[] results = await Task.WhenAll(writers).Within();

        results.Count(r => r is not null).Should().Be(1);
        StoredSession winner = results.Single(r => r is not null)!;
        (await this.Store.GetAsync("helper", "chat-1"))!.MessagesJson.Should().Be(winner.MessagesJson);
    }

    [Fact]
    public async Task ListAsync_Pages_InAgentThenKeyOrder()
    {
        foreach ((string agent, string key) in new[] { ("beta", "k1"), ("alpha", "k3"), ("alpha-2", "k1"), ("alpha", "k1"), ("alpha", "k2") })
        {
            await this.Save(agent, key, "[]", null);
        }

        var seen = new List<(string, string)>();
        string? token = null;
        int pages = 0;
        do
        {
            (IReadOnlyList<SessionSummary> page, string? next) = await this.Store.ListAsync(null, pageSize: 2, continuationToken: token);
            page.Count.Should().BeLessThanOrEqualTo(2);
            seen.AddRange(page.Select(s => (s.Agent, s.Key)));
            token = next;
            pages++;
            pages.Should().BeLessThan(10, "paging must end");
        }
        while (token is not null);

        seen.Should().Equal(("alpha", "k1"), ("alpha", "k2"), ("alpha", "k3"), ("alpha-2", "k1"), ("beta", "k1"));
        pages.Should().BeGreaterThanOrEqualTo(3);
    }

    [Fact]
    public async Task ListAsync_ForOneAgent_ReturnsOnlyItsSessionsWithSummaries()
    {
        await this.Save("alpha", "k1", "[1,2]", null);
        this.Clock.Advance(TimeSpan.FromSeconds(1));
        StoredSession v1 = (await this.Save("alpha-2", "k1", "[]", null))!;
        this.Clock.Advance(TimeSpan.FromSeconds(1));
        await this.Save("alpha-2", "k1", "[1]", v1.ETag);

        (IReadOnlyList<SessionSummary> page, string? next) = await this.Store.ListAsync("alpha-2");

        next.Should().BeNull();
        SessionSummary only = page.Should().ContainSingle().Subject;
        only.Should().Be(new SessionSummary("alpha-2", "k1", 3, v1.CreatedAt, v1.CreatedAt + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task ListAsync_Empty_ReturnsNoPageToken()
    {
        (IReadOnlyList<SessionSummary> page, string? next) = await this.Store.ListAsync(null);

        page.Should().BeEmpty();
        next.Should().BeNull();
    }

    [Fact]
    public async Task ListAsync_ForeignContinuationToken_ThrowsArgumentException()
    {
        await this.Save("helper", "chat-1", "[1]", null);

        Func<Task> list = () => this.Store.ListAsync(null, 10, "not a token!");

        (await list.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().StartWith("The continuation token is not one this store issued.");
    }

    [Fact]
    public async Task DeleteAsync_RemovesSession_SecondDeleteFalse()
    {
        await this.Save("helper", "chat-1", "[1]", null);

        (await this.Store.DeleteAsync("helper", "chat-1")).Should().BeTrue();
        (await this.Store.DeleteAsync("helper", "chat-1")).Should().BeFalse();

        (await this.Store.GetAsync("helper", "chat-1")).Should().BeNull();
        (await this.Save("helper", "chat-1", "[2]", null)).Should().NotBeNull("a deleted session can be created again");
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("slash/key")]
    public async Task SaveAsync_InvalidKey_Throws(string key)
    {
        await FluentActions.Awaiting(() => this.Save("helper", key, "[]", null)).Should().ThrowAsync<ArgumentException>();
    }

    [Fact]
    public async Task SaveAsync_KeyWithAllowedPunctuation_RoundTrips()
    {
        const string key = "telegram:12345@chat.group_a-b";
        await this.Save("helper", key, "[1]", null);

        (await this.Store.GetAsync("helper", key))!.Key.Should().Be(key);
        (await this.Store.ListAsync("helper")).Sessions.Single().Key.Should().Be(key);
    }
}

/// <summary>Extra obligations of stores that outlive the process.</summary>
public abstract class DurableSessionStoreContract : SessionStoreContract
{
    /// <summary>A second store instance on the same storage (as another process would open it).</summary>
    protected abstract Task<ISessionStore> OpenSecondInstanceAsync();

    [Fact]
    public async Task SecondInstance_ReadsSession_AndETagsHoldAcrossInstances()
    {
        StoredSession v1 = (await this.Save("helper", "chat-1", "[1]", null, "run-a"))!;
        ISessionStore second = await this.OpenSecondInstanceAsync();

        StoredSession read = (await second.GetAsync("helper", "chat-1"))!;
        read.MessagesJson.Should().Be("[1]");
        read.ETag.Should().Be(v1.ETag);
        read.AppliedRuns.Should().Equal("run-a");

        StoredSession v2 = (await second.SaveAsync("helper", "chat-1", "[2]", 1, [], v1.ETag))!;
        (await this.Save("helper", "chat-1", "[3]", v1.ETag)).Should().BeNull("the first instance's ETag is stale now");
        (await this.Store.GetAsync("helper", "chat-1"))!.ETag.Should().Be(v2.ETag);
        (await second.ListAsync(null)).Sessions.Should().ContainSingle();
    }
}
