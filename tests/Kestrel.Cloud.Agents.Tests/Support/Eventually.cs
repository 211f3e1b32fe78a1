namespace Kestrel.Cloud.Agents.Tests.Support;

/// <summary>
/// Waits for a condition outside the test's control that raises no event (a file written by a child process,
/// a killed process disappearing). Polls with a bounded ceiling; it synchronises on the condition, not on time.
/// </summary>
internal static class Eventually
{
    public static async Task<bool> TrueAsync(Func<bool> condition, int maxSeconds = 30)
    {
        DateTime giveUp = DateTime.UtcNow.AddSeconds(maxSeconds);
        while (!condition())
        {
            if (DateTime.UtcNow > giveUp)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}
