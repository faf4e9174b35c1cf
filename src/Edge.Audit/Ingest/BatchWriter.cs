using Edge.Audit.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Ingest;

/// <summary>
/// Reads the ingest channel and writes in batches: up to BatchSize messages, or whatever arrived within FlushInterval
/// of the first one. A failed write is retried; after three failures the batch is written one event at a time so a
/// single bad event cannot stall the queue (it is dropped, logged and counted as a store failure).
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

                var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);
                if (remaining <= TimeSpan.Zero || !await WaitForMoreAsync(reader, remaining, stoppingToken))
                {
                    break;
                }
            }

            await WriteAsync(batch, stoppingToken);
        }
    }

    private async Task<bool> WaitForMoreAsync(System.Threading.Channels.ChannelReader<PendingWrite> reader, TimeSpan wait, CancellationToken stoppingToken)
    {
        using var timeout = new CancellationTokenSource(wait, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stoppingToken);
        try
        {
            return await reader.WaitToReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Writes one batch (exposed for the benchmark, which measures the writer without a host).</summary>
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
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                result ??= await store.WriteEventsAsync(events, cancellationToken);
                await store.WriteStatusesAsync([.. latestStatus.Values], cancellationToken);
                foreach (var s in latestStatus.Values)
                {
                    pipeline.Stats.KioskStatus(s.SiteId, s.KioskId, s.StatusTimeMs, s.Online);
                }

                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.BatchWriteFailed(logger, ex, batch.Count, attempt);
                if (attempt >= 3)
                {
                    result ??= await WriteOneByOneAsync(events, cancellationToken);
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
    }

    private async Task<WriteResult> WriteOneByOneAsync(List<IncomingEvent> events, CancellationToken cancellationToken)
    {
        int stored = 0, duplicates = 0;
        foreach (var e in events)
        {
            try
            {
                var r = await store.WriteEventsAsync([e], cancellationToken);
                stored += r.Stored;
                duplicates += r.Duplicates;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.EventDropped(logger, ex, e.EventId);
                pipeline.Stats.StoreFailed();
            }
        }

        return new WriteResult(stored, duplicates);
    }
}
