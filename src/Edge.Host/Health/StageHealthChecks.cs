using Edge.Camera;
using Edge.Host.Options;
using Edge.Host.Pipeline;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Edge.Host.Health;

/// <summary>Camera liveness: healthy while streaming, starting or intentionally idle; unhealthy in backoff or stopped.</summary>
public sealed class CameraHealthCheck(IFrameSource source, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var s = source.Status;
        var data = new Dictionary<string, object>
        {
            ["state"] = s.State.ToString(),
            ["frames"] = s.Frames,
            ["restarts"] = s.Restarts,
        };
        if (s.LastFrameAt is { } last)
        {
            data["secondsSinceFrame"] = Math.Round((time.GetUtcNow() - last).TotalSeconds, 3);
        }

        if (s.LastError is not null)
        {
            data["lastError"] = s.LastError;
        }

        if (s.NextRetryIn is { } retry && s.State == CameraState.Backoff)
        {
            data["retryInSeconds"] = Math.Round(retry.TotalSeconds, 3);
        }

        var result = s.State switch
        {
            CameraState.Streaming => HealthCheckResult.Healthy("streaming", data),
            CameraState.Starting => HealthCheckResult.Healthy("starting", data),
            CameraState.Idle => HealthCheckResult.Healthy("idle: capture gate closed (no one present)", data),
            CameraState.Ended => HealthCheckResult.Degraded("source ended", data: data),
            CameraState.Backoff => HealthCheckResult.Unhealthy($"camera down, restarting with backoff: {s.LastError}", data: data),
            _ => HealthCheckResult.Unhealthy("camera stopped", data: data),
        };
        return Task.FromResult(result);
    }
}

/// <summary>Pipeline liveness: unhealthy when the camera delivers frames but none got through for Pipeline:StallTimeout.</summary>
public sealed class PipelineHealthCheck(IFrameSource source, PipelineStatus status, IOptions<PipelineOptions> options, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["frames"] = status.Frames, ["errors"] = status.Errors };
        var since = status.SinceLastFrame;
        if (since is { } s)
        {
            data["secondsSinceFrame"] = Math.Round(s.TotalSeconds, 3);
        }

        if (status.LastError is not null)
        {
            data["lastError"] = status.LastError;
        }

        var camera = source.Status;
        var cameraFresh = camera.LastFrameAt is { } last && time.GetUtcNow() - last < options.Value.StallTimeout;
        var limit = options.Value.StallTimeout;
        if (cameraFresh && camera.Frames > 0 && (since is null ? camera.Frames > 100 : since > limit))
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"frames arrive but none processed for {(since ?? limit).TotalSeconds:0.0} s (Pipeline:StallTimeout): {status.LastError}", data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy(status.Completed ? "completed" : "running", data));
    }
}

/// <summary>Hand-over to the outbox: unhealthy while the outbox refuses events.</summary>
public sealed class EventsHealthCheck(PipelineChannels channels, PipelineStatus status, IEnumerable<IFaceEventSink> sinks) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["queued"] = channels.Events.Reader.Count };
        var sink = sinks.FirstOrDefault();
        if (sink is not null && sink.Pending >= 0)
        {
            data["outboxPending"] = sink.Pending;
        }

        if (status.SinceLastPublish is { } since)
        {
            data["secondsSincePublish"] = Math.Round(since.TotalSeconds, 3);
        }

        return Task.FromResult(status.LastPublishError is { } error
            ? HealthCheckResult.Unhealthy($"outbox refuses events: {error}", data: data)
            : HealthCheckResult.Healthy("ok", data));
    }
}
