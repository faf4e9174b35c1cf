using Edge.Explain.Drift;
using Edge.Sync;
using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Google.Protobuf;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Host.Trust;

/// <summary>
/// Every <see cref="DriftOptions.PublishInterval"/>: computes the drift report and publishes it, retained at QoS 1, on
/// <c>edge/v1/{site}/{kiosk}/drift</c> through the kiosk's MQTT transport (the one Edge.Sync connects). A failed
/// publish is logged and retried at the next tick; the latest report is also kept for /metrics.
/// </summary>
public sealed class DriftPublisherService(
    DriftMonitor monitor,
    IMqttTransport transport,
    IOptions<DriftOptions> options,
    IOptions<EdgeSyncOptions> sync,
    ModelIdentity model,
    TimeProvider time,
    ILogger<DriftPublisherService> logger) : BackgroundService
{
    /// <summary>The last computed report (null before the first tick).</summary>
    public DriftReport? Latest { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var topic = EdgeTopics.Drift(sync.Value.SiteId, sync.Value.KioskId);
        using var timer = new PeriodicTimer(o.PublishInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await PublishOnceAsync(topic, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is MqttTransportException or TimeoutException or InvalidOperationException)
            {
                Log.DriftPublishFailed(logger, e.Message);
            }
        }
    }

    internal async Task PublishOnceAsync(string topic, CancellationToken cancellationToken)
    {
        var report = monitor.Report();
        Latest = report;
        var worst = report.Signals.MaxBy(s => s.Psi)!;
        Log.DriftStatusComputed(logger, DriftMessages.Name(report.Level), worst.Name, worst.Psi, report.WindowFaces, report.OcclusionDisagreements, report.OcclusionChecks);
        var message = DriftMessages.ToProto(report, sync.Value.SiteId, sync.Value.KioskId, model.Sha256, monitor.Baseline, options.Value);
        await transport.PublishAsync(topic, message.ToByteArray(), MqttQos.AtLeastOnce, retain: true, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The scoring model the drift distributions come from (its SHA-256), resolved once at start.</summary>
public sealed record ModelIdentity(string Sha256);
