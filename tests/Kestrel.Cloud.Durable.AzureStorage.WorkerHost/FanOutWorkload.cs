using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Kestrel.Cloud.Durable.AzureStorage.WorkerHost;

/// <summary>
/// The workload of the process tests: orchestration "FanOutSum" with input i runs one "Mix" activity (hashes
/// "i"), then fans out <see cref="FanOut"/> "Square" activities of i*10+j, and returns "mix|sum".
/// </summary>
public static class FanOutWorkload
{
    /// <summary>Activities in each fan-out.</summary>
    public const int FanOut = 5;

    /// <summary>The orchestration name.</summary>
    public const string OrchestrationName = "FanOutSum";

    private static int activityExecutions;

    /// <summary>How many activities this process has run.</summary>
    public static int ActivityExecutions => Volatile.Read(ref activityExecutions);

    /// <summary>Registers the orchestration and its activities.</summary>
    public static void Register(DurableTaskRegistry registry) => registry
        .AddActivityFunc<string, string>("Mix", (_, input) =>
        {
            Interlocked.Increment(ref activityExecutions);
            return Mix(input);
        })
        .AddActivityFunc<int, long>("Square", async (_, x) =>
        {
            Interlocked.Increment(ref activityExecutions);
            await Task.Delay(10).ConfigureAwait(false);
            return (long)x * x;
        })
        .AddOrchestratorFunc<int, string>(OrchestrationName, async (ctx, i) =>
        {
            string mixed = await ctx.CallActivityAsync<string>("Mix", i.ToString(CultureInfo.InvariantCulture));
            long[] squares = await Task.WhenAll(Enumerable.Range(0, FanOut).Select(j => ctx.CallActivityAsync<long>("Square", (i * 10) + j)));
            return $"{mixed}|{squares.Sum()}";
        });

    /// <summary>Hashes the text 1,000 times and returns 8 hex digits.</summary>
    public static string Mix(string text)
    {
        byte[] data = Encoding.UTF8.GetBytes(text);
        for (int round = 0; round < 1_000; round++)
        {
            data = SHA256.HashData(data);
        }

        return Convert.ToHexString(data, 0, 4);
    }
}
