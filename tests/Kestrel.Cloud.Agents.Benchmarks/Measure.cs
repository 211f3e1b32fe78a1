using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace Kestrel.Cloud.Agents.Benchmarks;

/// <summary>Percentiles of a sample (nearest rank).</summary>
public sealed record Distribution(int Count, double Min, double P50, double P90, double P99, double Max, double Mean)
{
    public static Distribution Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0)
        {
            return new Distribution(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        double[] sorted = values.Order().ToArray();
        double At(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Distribution(sorted.Length, sorted[0], At(0.50), At(0.90), At(0.99), sorted[^1], sorted.Average());
    }

    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture, $"p50 {this.P50:F2} ms, p90 {this.P90:F2} ms, p99 {this.P99:F2} ms (min {this.Min:F2}, max {this.Max:F2}, n={this.Count})");
}

/// <summary>Process memory as the OS and the GC see it.</summary>
public sealed record MemorySnapshot(
    string Label,
    double WorkingSetMb,
    double? VmRssMb,
    double? VmHwmMb,
    double ManagedHeapMb,
    double GcHeapSizeMb,
    double GcCommittedMb,
    double TotalAllocatedMb,
    int Gen2Collections)
{
    private const double Mb = 1024 * 1024;

    /// <summary>Reads the figures; with <paramref name="fullGc"/> first forces a blocking, compacting collection of every generation (LOH included).</summary>
    public static MemorySnapshot Take(string label, bool fullGc)
    {
        if (fullGc)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        }

        using Process self = Process.GetCurrentProcess();
        GCMemoryInfo info = GC.GetGCMemoryInfo(GCKind.Any);
        return new MemorySnapshot(
            label,
            self.WorkingSet64 / Mb,
            ProcStatusKb("VmRSS:") / 1024,
            ProcStatusKb("VmHWM:") / 1024,
            GC.GetTotalMemory(forceFullCollection: false) / Mb,
            info.HeapSizeBytes / Mb,
            info.TotalCommittedBytes / Mb,
            GC.GetTotalAllocatedBytes() / Mb,
            GC.CollectionCount(2));
    }

    private static double? ProcStatusKb(string field)
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    string[] parts = line[field.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return double.Parse(parts[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }
}

/// <summary>Machine facts written with the figures.</summary>
public static class Machine
{
    public static string? LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
}
