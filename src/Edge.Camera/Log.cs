using Microsoft.Extensions.Logging;

namespace Edge.Camera;

/// <summary>The camera stage's log messages (event ids 100–199).</summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Information, "camera: starting ffmpeg (pid {Pid}) for {Kind} source '{Source}'")]
    public static partial void SessionStarting(ILogger logger, int pid, CameraSourceKind kind, string source);

    [LoggerMessage(101, LogLevel.Warning, "camera: session failed (attempt {Attempt}), restarting in {DelaySeconds:0.00} s: {Error}")]
    public static partial void SessionFailed(ILogger logger, int attempt, double delaySeconds, string error);

    [LoggerMessage(102, LogLevel.Warning, "camera: session ended after a stable run, restarting: {Error}")]
    public static partial void SessionEndedAfterStableRun(ILogger logger, string error);

    [LoggerMessage(103, LogLevel.Information, "camera: source ended after {Frames} frames")]
    public static partial void Ended(ILogger logger, long frames);

    [LoggerMessage(104, LogLevel.Information, "camera: capture gate closed; camera idle")]
    public static partial void Idle(ILogger logger);

    [LoggerMessage(105, LogLevel.Information, "camera: capture gate closed after {Frames} frames; stopping ffmpeg")]
    public static partial void Gated(ILogger logger, long frames);

    [LoggerMessage(106, LogLevel.Warning, "ffmpeg: {Line}")]
    public static partial void FfmpegStderr(ILogger logger, string line);

    [LoggerMessage(107, LogLevel.Warning, "ffmpeg: {Count} stderr lines were not logged (rate limit Camera:StderrLogLines)")]
    public static partial void StderrSuppressed(ILogger logger, long count);

    [LoggerMessage(108, LogLevel.Warning, "camera: could not kill ffmpeg: {Error}")]
    public static partial void KillFailed(ILogger logger, string error);
}
