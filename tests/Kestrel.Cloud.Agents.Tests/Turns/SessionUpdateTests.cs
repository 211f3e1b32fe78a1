using Kestrel.Cloud.Agents.Sessions;
using Kestrel.Cloud.Agents.Turns;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>The optimistic read-change-save loop the turn activities share.</summary>
public sealed class SessionUpdateTests
{
    /// <summary>Proves a save that meets a concurrent write re-reads and decides again, and saves with the ETag it read.</summary>
    [Fact]
    public async Task ApplyAsync_Conflict_RereadsAndSavesWithTheNewETag()
    {
        var store = new ConflictingSessionStore(conflicts: 2);
        var seen = new List<string?>();

        string result = await SessionUpdate.ApplyAsync(
            store,
            "a",
            "k",
            maxAttempts: 5,
            session =>
            {
                seen.Add(session?.ETag);
                return Task.FromResult(SessionChange<string>.Save(new[] { new TurnMessage("user", "hi") }, new[] { "run" }, "saved"));
            },
            "conflict",
            default);

        result.Should().Be("saved");
        seen.Should().Equal("e1", "e2", "e3");
        store.SavedWithETags.Should().Equal("e1", "e2", "e3");
    }

    /// <summary>Proves a change that asks for nothing to be saved returns at once without writing.</summary>
    [Fact]
    public async Task ApplyAsync_Done_ReturnsWithoutSaving()
    {
        var store = new ConflictingSessionStore(conflicts: int.MaxValue);

        string result = await SessionUpdate.ApplyAsync(store, "a", "k", 5, _ => Task.FromResult(SessionChange<string>.Done("kept")), "conflict", default);

        result.Should().Be("kept");
        store.Reads.Should().Be(1);
        store.SavedWithETags.Should().BeEmpty();
    }

    /// <summary>Proves SaveSession reads the session 10 times while every save meets a concurrent write, then fails the run with its message.</summary>
    [Fact]
    public async Task SaveSession_SessionKeepsChanging_TriesTenTimesThenThrows()
    {
        using var temp = new TempDirectory();
        var store = new ConflictingSessionStore(conflicts: int.MaxValue);
        var services = new ServiceCollection();
        services.AddSingleton<ISessionStore>(store);
        services.AddKestrelAgents(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["KestrelCloud:Agents:WorkspacePath"] = temp.Path }).Build());
        await using ServiceProvider provider = services.BuildServiceProvider();
        var activity = new SaveSessionActivity(provider);

        Func<Task> save = () => activity.RunAsync(
            new TaskActivityContext(AgentTurnNames.SaveSession, "run.a.1", 1, default),
            new SaveSessionInput("run.a.1", "a", "k", new[] { new TurnMessage("user", "hi"), new TurnMessage("assistant", "hello") }, null));

        (await save.Should().ThrowAsync<TurnException>()).Which.Message.Should().Be("The session a/k kept changing while this run saved it; the run's messages were not saved.");
        store.Reads.Should().Be(10);
        store.SavedWithETags.Should().HaveCount(10);
    }

    /// <summary>A session store whose session changes under every save until <c>conflicts</c> saves have failed.</summary>
    private sealed class ConflictingSessionStore(int conflicts) : ISessionStore
    {
        private int version = 1;

        public int Reads { get; private set; }

        public List<string?> SavedWithETags { get; } = new();

        public Task<StoredSession?> GetAsync(string agent, string key, CancellationToken cancellationToken = default)
        {
            this.Reads++;
            return Task.FromResult<StoredSession?>(new StoredSession(agent, key, "[]", 0, Array.Empty<string>(), DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "e" + this.version));
        }

        public Task<StoredSession?> SaveAsync(string agent, string key, string messagesJson, int messageCount, IReadOnlyList<string> appliedRuns, string? expectedETag, CancellationToken cancellationToken = default)
        {
            this.SavedWithETags.Add(expectedETag);
            if (this.SavedWithETags.Count <= conflicts)
            {
                this.version++; // another writer got there first
                return Task.FromResult<StoredSession?>(null);
            }

            return Task.FromResult<StoredSession?>(new StoredSession(agent, key, messagesJson, messageCount, appliedRuns, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "saved"));
        }

        public Task<(IReadOnlyList<SessionSummary> Sessions, string? ContinuationToken)> ListAsync(string? agent, int pageSize = 100, string? continuationToken = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<bool> DeleteAsync(string agent, string key, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
