using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Edge.Sync;

/// <summary>
/// The <c>Edge.Sync</c> meter. Counters are also kept as plain totals so the health snapshot and tests can read them.
/// Instruments: <c>edge.sync.events.enqueued|published|refused|dropped|dead_lettered</c>, <c>edge.sync.publish.retries</c>,
/// <c>edge.sync.publish.latency</c> (ms, event creation → PUBACK), observable <c>edge.sync.outbox.pending</c>,
/// <c>edge.sync.outbox.pending_bytes</c>, <c>edge.sync.outbox.oldest_age</c> (s), <c>edge.sync.mqtt.connected</c>,
/// <c>edge.sync.mqtt.reconnects</c>.
/// </summary>
public sealed class SyncMetrics : IDisposable
{
    /// <summary>The meter name to listen to.</summary>
    public const string MeterName = "Edge.Sync";

    private readonly Meter _meter;
    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _published;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _retries;
    private readonly Histogram<double> _latency;
    private long _enqueuedTotal;
    private long _publishedTotal;
    private long _refusedTotal;
    private long _droppedTotal;
    private long _deadLetteredTotal;
    private long _retriesTotal;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (or a standalone meter when null).</summary>
    public SyncMetrics(IMeterFactory? meterFactory, SyncHealth health)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _enqueued = _meter.CreateCounter<long>("edge.sync.events.enqueued", "{event}", "Events written to the outbox");
        _published = _meter.CreateCounter<long>("edge.sync.events.published", "{event}", "Events acknowledged by the broker (PUBACK) and removed from the outbox");
        _refused = _meter.CreateCounter<long>("edge.sync.events.refused", "{event}", "Events not accepted into the outbox (tag reason)");
        _dropped = _meter.CreateCounter<long>("edge.sync.events.dropped", "{event}", "Pending events deleted unsent by the cap policy (tag reason: cap_bytes, cap_age)");
        _deadLettered = _meter.CreateCounter<long>("edge.sync.events.dead_lettered", "{event}", "Events the broker refused permanently, moved to the dead-letter table (tag reason_code)");
        _retries = _meter.CreateCounter<long>("edge.sync.publish.retries", "{rewind}", "Times publishing rewound to the oldest unacknowledged event");
        _latency = _meter.CreateHistogram<double>("edge.sync.publish.latency", "ms", "Event creation (enqueue) to PUBACK");
        _meter.CreateObservableGauge("edge.sync.outbox.pending", () => health.Current.PendingCount, "{event}", "Events waiting in the outbox");
        _meter.CreateObservableGauge("edge.sync.outbox.pending_bytes", () => health.Current.PendingBytes, "By", "Bytes waiting in the outbox");
        _meter.CreateObservableGauge("edge.sync.outbox.oldest_age", () => health.Current.OldestPendingAge.TotalSeconds, "s", "Age of the oldest waiting event");
        _meter.CreateObservableGauge("edge.sync.mqtt.connected", () => health.Current.Connection == Mqtt.MqttConnectionState.Connected ? 1 : 0, null, "1 while connected to the broker");
        _meter.CreateObservableCounter("edge.sync.mqtt.reconnects", () => health.Current.Reconnects, "{reconnect}", "Connections re-established after a loss");
    }

    /// <summary>Total events enqueued.</summary>
    public long EnqueuedTotal => Interlocked.Read(ref _enqueuedTotal);

    /// <summary>Total events acknowledged.</summary>
    public long PublishedTotal => Interlocked.Read(ref _publishedTotal);

    /// <summary>Total events refused at enqueue.</summary>
    public long RefusedTotal => Interlocked.Read(ref _refusedTotal);

    /// <summary>Total events dropped by the cap policy.</summary>
    public long DroppedTotal => Interlocked.Read(ref _droppedTotal);

    /// <summary>Total events dead-lettered.</summary>
    public long DeadLetteredTotal => Interlocked.Read(ref _deadLetteredTotal);

    /// <summary>Total publish rewinds.</summary>
    public long RetriesTotal => Interlocked.Read(ref _retriesTotal);

    internal void Enqueued(int count)
    {
        Interlocked.Add(ref _enqueuedTotal, count);
        _enqueued.Add(count);
    }

    internal void Published(double latencyMs)
    {
        Interlocked.Increment(ref _publishedTotal);
        _published.Add(1);
        _latency.Record(latencyMs);
    }

    internal void Refused(string reason, int count = 1)
    {
        Interlocked.Add(ref _refusedTotal, count);
        _refused.Add(count, new KeyValuePair<string, object?>("reason", reason));
    }

    internal void Dropped(string reason, long count)
    {
        Interlocked.Add(ref _droppedTotal, count);
        _dropped.Add(count, new KeyValuePair<string, object?>("reason", reason));
    }

    internal void DeadLettered(int reasonCode)
    {
        Interlocked.Increment(ref _deadLetteredTotal);
        _deadLettered.Add(1, new KeyValuePair<string, object?>("reason_code", reasonCode));
    }

    internal void Retried()
    {
        Interlocked.Increment(ref _retriesTotal);
        _retries.Add(1);
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
