using Kestrel.Cloud.Agents.Turns;
using Kestrel.Cloud.Testing;

namespace Kestrel.Cloud.Agents.Tests.Turns;

/// <summary>How streamed text is batched for the run's log.</summary>
public sealed class TextDeltaBatcherTests
{
    /// <summary>Proves the first piece goes at once and later pieces wait for the interval.</summary>
    [Fact]
    public void Add_FirstPieceImmediately_ThenByInterval()
    {
        var clock = new ManualTimeProvider();
        var batcher = new TextDeltaBatcher(clock, TimeSpan.FromMilliseconds(100), 1000);

        batcher.Add("Hel").Should().Be("Hel");
        batcher.Add("lo").Should().BeNull();
        batcher.Add(" wor").Should().BeNull();
        clock.Advance(TimeSpan.FromMilliseconds(100));
        batcher.Add("ld").Should().Be("lo world");
        batcher.Flush().Should().BeNull();
        batcher.BatchCount.Should().Be(2);
    }

    /// <summary>Proves a batch goes out as soon as it holds the maximum number of characters, and Flush returns the rest.</summary>
    [Fact]
    public void Add_MaxChars_FlushesBySize()
    {
        var clock = new ManualTimeProvider();
        var batcher = new TextDeltaBatcher(clock, TimeSpan.FromHours(1), 5);

        batcher.Add("a").Should().Be("a");
        batcher.Add("bc").Should().BeNull();
        batcher.Add("def").Should().Be("bcdef");
        batcher.Add("g").Should().BeNull();
        batcher.Add(string.Empty).Should().BeNull();
        batcher.Flush().Should().Be("g");
        batcher.BatchCount.Should().Be(3);
    }
}
