using Edge.Sync.Mqtt;
using Edge.Sync.Mqtt.Native;
using Edge.Sync.Outbox;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Sync;

/// <summary>
/// Drains the outbox to the broker: reads pending events in <c>seq</c> order, publishes them QoS 1 with up to
/// <see cref="MqttBrokerOptions.MaxInFlight"/> awaiting PUBACK, deletes each one only after its PUBACK. When a publish
/// fails (connection lost, timeout, a refusal that may pass) it waits for the in-flight ones to settle and starts again
/// from the oldest unacknowledged event, so order is kept and nothing is skipped; a refusal that cannot pass (not
/// authorised, packet too large, bad topic or payload) moves that event to the dead-letter table. It also expires events
/// past <see cref="OutboxOptions.MaxAge"/> and refreshes <see cref="SyncHealth"/> about once a second.
/// </summary>
public sealed class OutboxPublisherService(
    SqliteOutbox outbox,
    IMqttTransport transport,
    IOptions<EdgeSyncOptions> options,
    SyncHealth health,
    SyncMetrics metrics,
    TimeProvider timeProvider,
    ILogger<OutboxPublisherService> logger) : BackgroundService
{
    private readonly EdgeSyncOptions _options = options.Value;
    private readonly int _window = options.Value.Broker.MaxInFlight;
    private SemaphoreSlim? _slots;
    private volatile string? _rewindReason;
    private volatile bool _backoff;
    private long _lastDropSeen;
    private DateTimeOffset _lastDropAt = DateTimeOffset.MinValue;
    private SyncHealthStatus? _lastStatus;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _slots = new SemaphoreSlim(_window, _window);
        var stats = await outbox.GetStatsAsync(stoppingToken).ConfigureAwait(false);
        Log.PublisherStarted(logger, stats.PendingCount);
        var connecting = transport.ConnectAsync(stoppingToken);
        var housekeeping = HousekeepingAsync(stoppingToken);
        try
        {
            await DrainAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            // Let in-flight publishes settle so their PUBACKs still delete rows, then flush those deletes.
            await SettleAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            await outbox.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await Task.WhenAll(Quiet(connecting), Quiet(housekeeping)).ConfigureAwait(false);
            stats = await outbox.GetStatsAsync(CancellationToken.None).ConfigureAwait(false);
            await RefreshHealthAsync(CancellationToken.None).ConfigureAwait(false);
            Log.PublisherStopped(logger, stats.PendingCount);
        }
    }

    private async Task DrainAsync(CancellationToken stoppingToken)
    {
        var slots = _slots!;
        long cursor = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_rewindReason is { } reason)
                {
                    Log.PublisherRewind(logger, reason);
                    metrics.Retried();
                    await SettleAsync(Timeout.InfiniteTimeSpan, stoppingToken).ConfigureAwait(false);
                    await outbox.FlushAsync(stoppingToken).ConfigureAwait(false);
                    cursor = 0;
                    _rewindReason = null;
                    if (_backoff)
                    {
                        _backoff = false;
                        await Task.Delay(_options.RefusalBackoff, timeProvider, stoppingToken).ConfigureAwait(false);
                    }
                }

                if (transport.State != MqttConnectionState.Connected)
                {
                    await transport.ConnectAsync(stoppingToken).ConfigureAwait(false);
                }

                var batch = await outbox.ReadAsync(cursor, _options.PublishBatchSize, stoppingToken).ConfigureAwait(false);
                if (batch.Count == 0)
                {
                    await outbox.WaitForDataAsync(cursor, TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                    continue;
                }

                foreach (var record in batch)
                {
                    await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                    if (_rewindReason is not null)
                    {
                        slots.Release();
                        break;
                    }

                    _ = PublishOneAsync(record, stoppingToken);
                    cursor = record.Seq;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.PublisherLoopFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(1), timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task PublishOneAsync(OutboxRecord record, CancellationToken stoppingToken)
    {
        try
        {
            var result = await transport.PublishAsync(record.Topic, record.Payload, MqttQos.AtLeastOnce, retain: false, stoppingToken).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                outbox.Acknowledge(record.Seq);
                var nowMicros = (timeProvider.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
                metrics.Published((nowMicros - record.CreatedUnixMicros) / 1000.0);
            }
            else if (IsPermanentRefusal(result.ReasonCode))
            {
                var text = MosquittoNative.ReasonText(result.ReasonCode);
                Log.EventDeadLettered(logger, record.EventId, result.ReasonCode, text);
                outbox.DeadLetter(record.Seq, $"0x{result.ReasonCode:X2} {text}");
                metrics.DeadLettered(result.ReasonCode);
            }
            else
            {
                Log.EventRefusedTransient(logger, record.EventId, result.ReasonCode, MosquittoNative.ReasonText(result.ReasonCode));
                _backoff = true;
                _rewindReason ??= $"broker refused {record.EventId} with 0x{result.ReasonCode:X2}";
            }
        }
        catch (MqttTransportException ex) when (ex.Kind != MqttErrorKind.Other)
        {
            _rewindReason ??= ex.Message;
        }
        catch (MqttTransportException ex)
        {
            // libmosquitto refused the packet itself (e.g. larger than the broker's maximum packet size): it will never pass.
            Log.EventDeadLettered(logger, record.EventId, 0x95, ex.Message);
            outbox.DeadLetter(record.Seq, ex.Message);
            metrics.DeadLettered(0x95);
        }
        catch (TimeoutException ex)
        {
            _rewindReason ??= ex.Message;
        }
        catch (OperationCanceledException)
        {
            _rewindReason ??= "stopping";
        }
        catch (Exception ex)
        {
            Log.PublisherLoopFailed(logger, ex);
            _rewindReason ??= ex.Message;
        }
        finally
        {
            _slots!.Release();
        }
    }

    /// <summary>MQTT 5 PUBACK reason codes that retrying cannot fix.</summary>
    internal static bool IsPermanentRefusal(int reasonCode) => reasonCode is
        0x87 // not authorized
        or 0x90 // topic name invalid
        or 0x95 // packet too large
        or 0x99; // payload format invalid

    private async Task SettleAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var slots = _slots;
        if (slots is null)
        {
            return;
        }

        var taken = 0;
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (timeout != Timeout.InfiniteTimeSpan)
            {
                cts.CancelAfter(timeout);
            }

            for (; taken < _window; taken++)
            {
                await slots.WaitAsync(cts.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // settle timed out; what is still in flight stays in the outbox and goes again next time
        }
        finally
        {
            if (taken > 0)
            {
                slots.Release(taken);
            }
        }
    }

    private async Task HousekeepingAsync(CancellationToken stoppingToken)
    {
        var expireEvery = TimeSpan.FromTicks(Math.Min(_options.Outbox.MaxAge.Ticks / 10, TimeSpan.FromMinutes(1).Ticks));
        long? lastExpire = null; // monotonic: a wall clock stepped back must not pause expiry
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), timeProvider);
        do
        {
            try
            {
                if (lastExpire is not { } last || timeProvider.GetElapsedTime(last) >= expireEvery)
                {
                    lastExpire = timeProvider.GetTimestamp();
                    await outbox.ExpireAsync(stoppingToken).ConfigureAwait(false);
                }

                await RefreshHealthAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.PublisherLoopFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>Reads the outbox and transport and publishes a new <see cref="SyncHealthSnapshot"/>.</summary>
    internal async Task RefreshHealthAsync(CancellationToken cancellationToken)
    {
        var stats = await outbox.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        var now = timeProvider.GetUtcNow();
        var losses = metrics.DroppedTotal + metrics.RefusedTotal;
        if (losses != _lastDropSeen)
        {
            _lastDropSeen = losses;
            _lastDropAt = now;
        }

        var reconnects = transport.ReconnectCount;
        var (status, description) = SyncHealth.Classify(transport.State, transport.LastError, outbox.LastWriteError, stats.OldestPendingAge, now - _lastDropAt < TimeSpan.FromMinutes(1));
        health.Update(new SyncHealthSnapshot(
            status, description, transport.State, transport.LastError, outbox.LastWriteError,
            stats.PendingCount, stats.PendingBytes, stats.OldestPendingAge,
            metrics.EnqueuedTotal, metrics.PublishedTotal, metrics.RefusedTotal, metrics.DroppedTotal, metrics.DeadLetteredTotal,
            reconnects, now));
        if (_lastStatus != status)
        {
            _lastStatus = status;
            Log.HealthChanged(logger, status == SyncHealthStatus.Healthy ? LogLevel.Information : LogLevel.Warning, status, description);
        }
    }

    private static async Task Quiet(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // expected on stop
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _slots?.Dispose();
        base.Dispose();
    }
}
