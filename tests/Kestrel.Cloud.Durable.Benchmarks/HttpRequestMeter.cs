using System.Diagnostics.Metrics;

namespace Kestrel.Cloud.Durable.Benchmarks;

/// <summary>
/// Counts the HTTP requests this process makes and their total duration, from .NET's own
/// <c>http.client.request.duration</c> histogram (meter <c>System.Net.Http</c>). In the Azure scenarios every such
/// request is a storage call to Azurite, so requests per activity and the mean request time show what the store asks
/// of the service and how fast the service answers.
/// </summary>
public sealed class HttpRequestMeter : IDisposable
{
    private readonly MeterListener listener = new();
    private long count;
    private long totalMicroseconds;

    /// <summary>Starts listening.</summary>
    public HttpRequestMeter()
    {
        this.listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "System.Net.Http" && instrument.Name == "http.client.request.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        this.listener.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
        {
            Interlocked.Increment(ref this.count);
            Interlocked.Add(ref this.totalMicroseconds, (long)(seconds * 1_000_000));
        });
        this.listener.Start();
    }

    /// <summary>Requests completed so far and their summed duration.</summary>
    public (long Requests, TimeSpan Total) Snapshot() =>
        (Interlocked.Read(ref this.count), TimeSpan.FromMicroseconds(Interlocked.Read(ref this.totalMicroseconds)));

    /// <inheritdoc/>
    public void Dispose() => this.listener.Dispose();
}
