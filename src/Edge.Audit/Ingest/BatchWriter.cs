using Edge.Audit.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Ingest;

/// <summary>
/// Reads the ingest channel and writes in batches: up to BatchSize messages, or whatever arrived within FlushInterval of
/// the first one, or at once when the source waits for acknowledgements (nothing more arrives before this commit). After
/// the commit every message of the batch is acknowledged to its source, so the broker forgets it only once it is stored.
/// A write that fails for a transient reason (<see cref="IAuditStore.IsTransient"/>: busy, locked, unreachable, disk full)
/// is retried every RetryDelay until it succeeds; its messages stay unacknowledged meanwhile. After three failures of
/// another kind the batch is written one event at a time so a single bad event cannot stall the queue: it is dropped,
/// logged, counted as a store failure and acknowledged (sending it again would fail again).
/// </summary>
public sealed class BatchWriter(
    IngestPipeline pipeline,
    IAuditStore store,
    IOptions<AuditOptions> options,
    TimeProvider time,
    ILogger<BatchWriter> logger) : BackgroundService
{
    private readonly IngestOptions _options = options.Value.Ingest;

    /// <summary>Writer loops: Audit:Ingest:Writers, or by default 1 for SQLite (one writer per file) and 2 for PostgreSQL (overlaps one batch's round trips with the next).</summary>
    public int WriterCount => _options.Writers > 0 ? _options.Writers : store.Provider == StorageProvider.PostgreSql ? 2 : 1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await LoadKioskStatusesAsync(stoppingToken);
        await Task.WhenAll(Enumerable.Range(0, WriterCount).Select(_ => Task.Run(() => LoopAsync(stoppingToken), stoppingToken)));
    }

    /// <summary>Starts the kiosks-online gauge from the store, so it is right before the first status arrives (or with MQTT off).</summary>
    private async Task LoadKioskStatusesAsync(CancellationToken stoppingToken)
    {
        try
        {
            foreach (var k in await store.ListKioskStatusAsync(stoppingToken))
            {
                pipeline.Stats.KioskStatus(k.SiteId, k.KioskId, k.StatusTimeMs, k.Online);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // only a gauge: the statuses that arrive from now on still count
            Log.KioskStatusesNotLoaded(logger, ex);
        }
    }

    private async Task LoopAsync(CancellationToken stoppingToken)
    {
        var reader = pipeline.Reader;
        var batch = new List<PendingWrite>(_options.BatchSize);
        while (await reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            var deadline = time.GetTimestamp() + (long)(_options.FlushInterval.TotalSeconds * time.TimestampFrequency);
            while (batch.Count < _options.BatchSize)
            {
                if (reader.TryRead(out var item))
                {
                    batch.Add(item);
                    continue;
                }

                if (pipeline.UpstreamWaiting)
                {
                    break; // the source reads nothing more until what it delivered is acknowledged: commit now
                }

                var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);
                if (remaining <= TimeSpan.Zero || !await WaitForMoreAsync(reader, remaining, stoppingToken))
                {
                    break;
                }
            }

            if (batch.Count > 0)
            {
                await WriteAsync(batch, stoppingToken);
            }
        }
    }

    /// <summary>Waits for more messages, up to <paramref name="wait"/>; true when the batch should look again (data, or the source now waits).</summary>
    private async Task<bool> WaitForMoreAsync(System.Threading.Channels.ChannelReader<PendingWrite> reader, TimeSpan wait, CancellationToken stoppingToken)
    {
        using var timeout = new CancellationTokenSource(wait, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stoppingToken);
        try
        {
            var more = reader.WaitToReadAsync(linked.Token).AsTask();
            if (await Task.WhenAny(more, pipeline.UpstreamWaits) == more)
            {
                return await more;
            }

            await linked.CancelAsync(); // the source waits for this batch: stop waiting for data that cannot come
            return true;
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Writes one batch and acknowledges its messages (exposed for the benchmark, which measures the writer without a host).</summary>
    internal async Task WriteAsync(IReadOnlyList<PendingWrite> batch, CancellationToken cancellationToken)
    {
        var events = new List<IncomingEvent>(batch.Count);
        var latestStatus = new Dictionary<(string, string), IncomingStatus>();
        foreach (var item in batch)
        {
            if (item.Event is not null)
            {
                events.Add(item.Event);
            }
            else if (item.Status is not null)
            {
                var key = (item.Status.SiteId, item.Status.KioskId);
                if (!latestStatus.TryGetValue(key, out var s) || s.StatusTimeMs <= item.Status.StatusTimeMs)
                {
                    latestStatus[key] = item.Status;
                }
            }
        }

        var started = time.GetTimestamp();
        WriteResult? result = null;
        var statusesWritten = latestStatus.Count == 0;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                result ??= await store.WriteEventsAsync(events, cancellationToken);
                if (!statusesWritten)
                {
                    await store.WriteStatusesAsync([.. latestStatus.Values], cancellationToken);
                    statusesWritten = true;
                    foreach (var s in latestStatus.Values)
                    {
                        pipeline.Stats.KioskStatus(s.SiteId, s.KioskId, s.StatusTimeMs, s.Online);
                    }
                }

                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var transient = store.IsTransient(ex);
                if (ShouldLog(attempt))
                {
                    Log.BatchWriteFailed(logger, ex, batch.Count, attempt, transient);
                }

                if (attempt >= 3 && !transient)
                {
                    if (result is null)
                    {
                        result = await WriteOneByOneAsync(events, cancellationToken);
                        continue; // then the statuses
                    }

                    Log.StatusesDropped(logger, ex, latestStatus.Count);
                    pipeline.Stats.StoreFailed();
                    break;
                }

                await Task.Delay(_options.RetryDelay, time, cancellationToken);
            }
        }

        var now = time.GetTimestamp();
        pipeline.Stats.BatchWritten(batch.Count, time.GetElapsedTime(started, now));
        var lags = new double[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            lags[i] = time.GetElapsedTime(batch[i].ArrivedTimestamp, now).TotalMilliseconds;
        }

        pipeline.Stats.Committed(result.Stored, result.Duplicates, batch.Count - events.Count, lags);
        foreach (var item in batch)
        {
            item.Ack.Complete();
        }
    }

    private async Task<WriteResult> WriteOneByOneAsync(List<IncomingEvent> events, CancellationToken cancellationToken)
    {
        int stored = 0, duplicates = 0;
        foreach (var e in events)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var r = await store.WriteEventsAsync([e], cancellationToken);
                    stored += r.Stored;
                    duplicates += r.Duplicates;
                    break;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    if (!store.IsTransient(ex))
                    {
                        Log.EventDropped(logger, ex, e.EventId);
                        pipeline.Stats.StoreFailed();
                        break;
                    }

                    if (ShouldLog(attempt))
                    {
                        Log.BatchWriteFailed(logger, ex, 1, attempt, transient: true);
                    }

                    await Task.Delay(_options.RetryDelay, time, cancellationToken);
                }
            }
        }

        return new WriteResult(stored, duplicates);
    }

    /// <summary>The first three failures of a write, then one in sixty: an outage must not flood the log.</summary>
    private static bool ShouldLog(int attempt) => attempt <= 3 || attempt % 60 == 0;
}
