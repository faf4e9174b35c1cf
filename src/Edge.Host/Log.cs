using Microsoft.Extensions.Logging;

namespace Edge.Host;

/// <summary>The host's log messages (event ids 500–599).</summary>
internal static partial class Log
{
    [LoggerMessage(500, LogLevel.Error, "pipeline: frame {Sequence} failed: {Error}")]
    public static partial void FrameFailed(ILogger logger, long sequence, string error, Exception exception);

    [LoggerMessage(501, LogLevel.Information, "pipeline: frame stream ended after {Frames} frames")]
    public static partial void PipelineEnded(ILogger logger, long frames);

    [LoggerMessage(502, LogLevel.Warning, "publisher: the outbox refused an event, retrying in {DelaySeconds} s: {Error}")]
    public static partial void PublishFailed(ILogger logger, double delaySeconds, string error);

    [LoggerMessage(503, LogLevel.Information, "publisher: all events handed on; the source ended, stopping the service")]
    public static partial void SourceEndedStopping(ILogger logger);

    [LoggerMessage(504, LogLevel.Warning, "publisher: {Count} events were still queued at shutdown and not handed on")]
    public static partial void EventsLeftAtShutdown(ILogger logger, int count);

    [LoggerMessage(510, LogLevel.Information, "systemd: notify socket {Socket}, watchdog every {IntervalSeconds} s")]
    public static partial void SystemdEnabled(ILogger logger, string socket, double intervalSeconds);

    [LoggerMessage(511, LogLevel.Warning, "systemd: sd_notify failed: {Error}")]
    public static partial void NotifyFailed(ILogger logger, string error);

    [LoggerMessage(512, LogLevel.Warning, "systemd: watchdog not fed: no frame processed for {Seconds:0.0} s (Systemd:WatchdogFrameTimeout)")]
    public static partial void WatchdogStarved(ILogger logger, double seconds);

    [LoggerMessage(520, LogLevel.Information, "gpio: presence {Present}")]
    public static partial void Presence(ILogger logger, bool present);

    [LoggerMessage(521, LogLevel.Error, "gpio: {Error}")]
    public static partial void GpioError(ILogger logger, string error);

    [LoggerMessage(530, LogLevel.Information, "edge run: listening on {Url} (/healthz, /metrics)")]
    public static partial void Listening(ILogger logger, string url);
}
