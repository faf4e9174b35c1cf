using Edge.Host.Pipeline;
using Edge.Sync;
using Edge.Sync.Contract;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Edge.Host.Stages;

/// <summary>The pipeline's sink seam over Edge.Sync's outbox (<see cref="IEventSink"/>): durable when it returns.</summary>
public sealed class SyncEventSink(IEventSink sink, SyncHealth health) : IFaceEventSink
{
    public long Pending => health.Current.PendingCount;

    public async ValueTask EnqueueAsync(FaceEvent faceEvent, CancellationToken cancellationToken) =>
        await sink.EnqueueAsync(faceEvent, cancellationToken).ConfigureAwait(false);
}

/// <summary>/healthz entry for delivery (outbox + MQTT), from Edge.Sync's own classification.</summary>
public sealed class SyncHealthCheck(SyncHealth health) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var s = health.Current;
        var data = new Dictionary<string, object>
        {
            ["connection"] = s.Connection.ToString(),
            ["pending"] = s.PendingCount,
            ["oldestPendingSeconds"] = Math.Round(s.OldestPendingAge.TotalSeconds, 3),
            ["published"] = s.Published,
            ["refused"] = s.Refused,
            ["dropped"] = s.Dropped,
        };
        return Task.FromResult(s.Status switch
        {
            SyncHealthStatus.Healthy => HealthCheckResult.Healthy(s.Description, data),
            SyncHealthStatus.Degraded => HealthCheckResult.Degraded(s.Description, data: data),
            _ => HealthCheckResult.Unhealthy(s.Description, data: data),
        });
    }
}
