using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Kestrel.Cloud.Durable.CrashHost;

/// <summary>
/// The fixed workload: <see cref="InstanceCount"/> instances "crash-00".."crash-19"; instance i runs a chain of
/// <see cref="ChainLength"/> "Mix" activities (each hashes its input many times and waits a little, like a
/// small I/O call), then fans out <see cref="FanOut"/> "Square" activities, and returns "chain|sum".
/// </summary>
public static class CrashWorkload
{
    /// <summary>Number of instances.</summary>
    public const int InstanceCount = 20;

    /// <summary>Activities in each instance's chain.</summary>
    public const int ChainLength = 6;

    /// <summary>Activities in each instance's fan-out.</summary>
    public const int FanOut = 8;

    /// <summary>The orchestration name.</summary>
    public const string OrchestrationName = "CrashChain";

    /// <summary>The id of instance <paramref name="i"/>.</summary>
    public static string InstanceId(int i) => $"crash-{i:D2}";

    /// <summary>Registers the orchestration and its activities.</summary>
    public static void Register(DurableTaskRegistry registry) => registry
        .AddActivityFunc<string, string>("Mix", async (_, input) =>
        {
            string mixed = Mix(input);
            await Task.Delay(25).ConfigureAwait(false);
            return mixed;
        })
        .AddActivityFunc<int, long>("Square", async (_, x) =>
        {
            await Task.Delay(25).ConfigureAwait(false);
            return (long)x * x;
        })
        .AddOrchestratorFunc<int, string>(OrchestrationName, async (ctx, i) =>
        {
            string value = i.ToString(CultureInfo.InvariantCulture);
            for (int step = 0; step < ChainLength; step++)
            {
                value = await ctx.CallActivityAsync<string>("Mix", $"{value}:{step}");
            }

            long[] squares = await Task.WhenAll(Enumerable.Range(0, FanOut).Select(j => ctx.CallActivityAsync<long>("Square", (i * 10) + j)));
            return $"{value}|{squares.Sum()}";
        });

    /// <summary>Hashes the text 2,000 times (real CPU work of a millisecond or so) and returns 8 hex digits.</summary>
    public static string Mix(string text)
    {
        byte[] data = Encoding.UTF8.GetBytes(text);
        for (int round = 0; round < 2_000; round++)
        {
            data = SHA256.HashData(data);
        }

        return Convert.ToHexString(data, 0, 4);
    }
}
