using System.Diagnostics.Metrics;

namespace Edge.Audit.Ingest;

/// <summary>Counters of the ingest path (also published on the <c>Edge.Audit</c> meter).</summary>
public sealed class IngestStats : IDisposable
{
    private readonly Meter _meter = new("Edge.Audit");
    private readonly Counter<long> _rejectedCounter;
    private readonly Counter<long> _storedCounter;
    private readonly Histogram<double> _lagHistogram;
    private readonly long[] _rejected = new long[Enum.GetValues<RejectReason>().Length];
    private readonly double[] _lags = new double[1 << 16];
    private readonly Lock _lagGate = new();
    private long _lagCount;
    private long _received;
    private long _accepted;
    private long _stored;
    private long _statuses;
    private long _processed;
    private long _batches;
    private long _storeFailures;

    public IngestStats()
    {
        _rejectedCounter = _meter.CreateCounter<long>("edge_audit_ingest_rejected", description: "messages rejected, by reason");
        _storedCounter = _meter.CreateCounter<long>("edge_audit_ingest_stored", description: "events stored");
        _lagHistogram = _meter.CreateHistogram<double>("edge_audit_ingest_lag", "ms", "receipt to commit");
    }

    public void Received() => Interlocked.Increment(ref _received);

    public void Accepted() => Interlocked.Increment(ref _accepted);

    public void Rejected(RejectReason reason, long count = 1)
    {
        Interlocked.Add(ref _rejected[(int)reason], count);
        _rejectedCounter.Add(count, new KeyValuePair<string, object?>("reason", reason.ToString()));
    }

    public void StoreFailed() => Interlocked.Increment(ref _storeFailures);

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
        lock (_lagGate)
        {
            foreach (var lag in lagsMs)
            {
                _lags[_lagCount++ & (_lags.Length - 1)] = lag;
                _lagHistogram.Record(lag);
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

    public void Dispose() => _meter.Dispose();
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
