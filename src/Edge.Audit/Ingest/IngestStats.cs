using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Edge.Audit.Ingest;

/// <summary>
/// Counters of the ingest path, kept as plain totals (for <c>GET /api/v1/admin/ingest</c>, tests and the benchmark) and
/// published on the <c>Edge.Audit</c> meter (for <c>/metrics</c>): <c>edge.audit.ingest.received|accepted|stored|statuses|
/// store_failures</c>, <c>edge.audit.ingest.rejected</c> (tag reason; duplicates are reason <c>Duplicate</c>), histograms
/// <c>edge.audit.ingest.lag</c> (s, receipt → commit), <c>edge.audit.ingest.batch.size</c> and
/// <c>edge.audit.ingest.commit.duration</c> (s), observable <c>edge.audit.ingest.queue.depth|capacity</c> and
/// <c>edge.audit.kiosks.online|known</c> (the newest status per kiosk this instance has committed or read at start).
/// </summary>
public sealed class IngestStats : IDisposable
{
    /// <summary>The meter name to listen to.</summary>
    public const string MeterName = "Edge.Audit";

    private static readonly double[] LagBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    private static readonly double[] CommitBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly long[] BatchBuckets = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _receivedCounter;
    private readonly Counter<long> _acceptedCounter;
    private readonly Counter<long> _rejectedCounter;
    private readonly Counter<long> _storedCounter;
    private readonly Counter<long> _statusesCounter;
    private readonly Counter<long> _storeFailuresCounter;
    private readonly Histogram<double> _lagHistogram;
    private readonly Histogram<long> _batchHistogram;
    private readonly Histogram<double> _commitHistogram;
    private readonly ConcurrentDictionary<(string Site, string Kiosk), (long StatusTimeMs, bool Online)> _kiosks = new();
    private readonly long[] _rejected = new long[Enum.GetValues<RejectReason>().Length];
    private readonly double[] _lags = new double[1 << 16];
    private readonly Lock _lagGate = new();
    private Func<int> _queueDepth = static () => 0;
    private int _queueCapacity;
    private long _lagCount;
    private long _received;
    private long _accepted;
    private long _stored;
    private long _statuses;
    private long _processed;
    private long _batches;
    private long _storeFailures;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (the host's, so /metrics sees them), or a standalone meter when null.</summary>
    public IngestStats(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _receivedCounter = _meter.CreateCounter<long>("edge.audit.ingest.received", "{message}", "MQTT messages received (events and statuses), before decoding");
        _acceptedCounter = _meter.CreateCounter<long>("edge.audit.ingest.accepted", "{message}", "Messages that decoded and validated, queued for the writer");
        _rejectedCounter = _meter.CreateCounter<long>("edge.audit.ingest.rejected", "{message}", "Messages rejected, by reason (Duplicate: the event id was already stored)");
        _storedCounter = _meter.CreateCounter<long>("edge.audit.ingest.stored", "{event}", "Events stored (new event ids)");
        _statusesCounter = _meter.CreateCounter<long>("edge.audit.ingest.statuses", "{message}", "Kiosk status messages written");
        _storeFailuresCounter = _meter.CreateCounter<long>("edge.audit.ingest.store_failures", "{event}", "Events dropped because the store refused them even one by one");
        _lagHistogram = _meter.CreateHistogram("edge.audit.ingest.lag", "s", "Receipt to commit, per message", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = LagBuckets });
        _batchHistogram = _meter.CreateHistogram("edge.audit.ingest.batch.size", "{message}", "Messages per written batch", null,
            new InstrumentAdvice<long> { HistogramBucketBoundaries = BatchBuckets });
        _commitHistogram = _meter.CreateHistogram("edge.audit.ingest.commit.duration", "s", "Time to write and commit one batch, retries included", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = CommitBuckets });
        _meter.CreateObservableGauge("edge.audit.ingest.queue.depth", () => _queueDepth(), "{message}", "Decoded messages waiting for the writer");
        _meter.CreateObservableGauge("edge.audit.ingest.queue.capacity", () => Volatile.Read(ref _queueCapacity), "{message}", "Size of the writer queue (Audit:Ingest:QueueCapacity)");
        _meter.CreateObservableGauge("edge.audit.kiosks.online", () => _kiosks.Values.Count(k => k.Online), "{kiosk}", "Kiosks whose newest status says online");
        _meter.CreateObservableGauge("edge.audit.kiosks.known", () => _kiosks.Count, "{kiosk}", "Kiosks with a status");

        // every series exists from the start at 0, so a scraper sees the first increment as an increase
        foreach (var counter in new[] { _receivedCounter, _acceptedCounter, _storedCounter, _statusesCounter, _storeFailuresCounter })
        {
            counter.Add(0);
        }

        foreach (var reason in Enum.GetValues<RejectReason>())
        {
            _rejectedCounter.Add(0, new KeyValuePair<string, object?>("reason", reason.ToString()));
        }
    }

    /// <summary>The pipeline reports its queue here, so the gauges read it at each scrape.</summary>
    public void ObserveQueue(Func<int> depth, int capacity)
    {
        _queueDepth = depth;
        Volatile.Write(ref _queueCapacity, capacity);
    }

    /// <summary>A kiosk status that is now in the store; the newest per kiosk (by the kiosk's own time) counts.</summary>
    public void KioskStatus(string siteId, string kioskId, long statusTimeMs, bool online) =>
        _kiosks.AddOrUpdate((siteId, kioskId), (statusTimeMs, online), (_, old) => statusTimeMs >= old.StatusTimeMs ? (statusTimeMs, online) : old);

    public void Received()
    {
        Interlocked.Increment(ref _received);
        _receivedCounter.Add(1);
    }

    public void Accepted()
    {
        Interlocked.Increment(ref _accepted);
        _acceptedCounter.Add(1);
    }

    public void Rejected(RejectReason reason, long count = 1)
    {
        Interlocked.Add(ref _rejected[(int)reason], count);
        _rejectedCounter.Add(count, new KeyValuePair<string, object?>("reason", reason.ToString()));
    }

    public void StoreFailed()
    {
        Interlocked.Increment(ref _storeFailures);
        _storeFailuresCounter.Add(1);
    }

    /// <summary>Called by the writer after a batch: its size and how long writing it took.</summary>
    public void BatchWritten(int messages, TimeSpan duration)
    {
        _batchHistogram.Record(messages);
        _commitHistogram.Record(duration.TotalSeconds);
    }

    /// <summary>Called by the writer after a commit: stored events, duplicates and statuses all count as processed.</summary>
    public void Committed(int stored, int duplicates, int statuses, ReadOnlySpan<double> lagsMs)
    {
        Interlocked.Add(ref _stored, stored);
        Interlocked.Add(ref _statuses, statuses);
        if (duplicates > 0)
        {
            Rejected(RejectReason.Duplicate, duplicates);
        }

        _storedCounter.Add(stored);
        _statusesCounter.Add(statuses);
        lock (_lagGate)
        {
            foreach (var lag in lagsMs)
            {
                _lags[_lagCount++ & (_lags.Length - 1)] = lag;
                _lagHistogram.Record(lag / 1000);
            }
        }

        Interlocked.Add(ref _processed, lagsMs.Length);
        Interlocked.Increment(ref _batches);
    }

    /// <summary>Batches the writer has finished (commits, or give-ups): Processed / Batches is the messages per commit.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Accepted messages the writer has finished with (stored, duplicate or given up).</summary>
    public long Processed => Interlocked.Read(ref _processed);

    public long AcceptedCount => Interlocked.Read(ref _accepted);

    public long RejectedCount(RejectReason reason) => Interlocked.Read(ref _rejected[(int)reason]);

    /// <summary>Clears the lag window (the benchmark measures one phase at a time).</summary>
    public void ResetLag()
    {
        lock (_lagGate)
        {
            _lagCount = 0;
        }
    }

    public IngestSnapshot Snapshot()
    {
        double p50, p99, max;
        lock (_lagGate)
        {
            var n = (int)Math.Min(_lagCount, _lags.Length);
            var copy = _lags.AsSpan(0, n).ToArray();
            Array.Sort(copy);
            p50 = Percentile(copy, 0.50);
            p99 = Percentile(copy, 0.99);
            max = n == 0 ? 0 : copy[^1];
        }

        var rejected = new Dictionary<string, long>();
        foreach (var r in Enum.GetValues<RejectReason>())
        {
            rejected[r.ToString()] = RejectedCount(r);
        }

        return new IngestSnapshot(
            Interlocked.Read(ref _received), Interlocked.Read(ref _accepted), Interlocked.Read(ref _stored),
            Interlocked.Read(ref _statuses), Interlocked.Read(ref _storeFailures), rejected, p50, p99, max, Batches);
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}

public sealed record IngestSnapshot(
    long Received,
    long Accepted,
    long Stored,
    long Statuses,
    long StoreFailures,
    IReadOnlyDictionary<string, long> Rejected,
    double LagP50Ms,
    double LagP99Ms,
    double LagMaxMs,
    long Batches);
