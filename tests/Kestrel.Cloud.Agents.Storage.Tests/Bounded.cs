namespace Kestrel.Cloud.Agents.Storage.Tests;

/// <summary>
/// Safety bounds for awaits that must complete because of something the test did (an append, a clock move). The bound
/// only turns a hang into a failure; it never decides a result.
/// </summary>
internal static class Bounded
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    public static Task Within(this Task task) => task.WaitAsync(Limit);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Limit);

    /// <summary>Waits until <paramref name="condition"/> holds (a state with no event to await, such as a timer being registered).</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        DateTime giveUp = DateTime.UtcNow + Limit;
        while (!condition())
        {
            if (DateTime.UtcNow > giveUp)
            {
                throw new TimeoutException($"Gave up waiting for {what}.");
            }

            await Task.Delay(5);
        }
    }
}
