using Microsoft.Extensions.Logging;

namespace Edge.Host;

// The trust features' part of the host's log (event ids 800–849).
internal static partial class Log
{
    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "Drift watch on: baseline {Path} ({Faces} faces, captured {CapturedAt}), window {Window}, PSI warn {Warn} alert {Alert}, occlusion sample rate {Rate}")]
    public static partial void DriftWatchStarted(ILogger logger, string path, long faces, string capturedAt, int window, double warn, double alert, double rate);

    [LoggerMessage(EventId = 801, Level = LogLevel.Information, Message = "Drift {Level}: worst signal {Signal} PSI {Psi:F3} over {Window} faces; occlusion disagreement {Disagreements}/{Checks}")]
    public static partial void DriftStatusComputed(ILogger logger, string level, string signal, double psi, int window, int disagreements, int checks);

    [LoggerMessage(EventId = 802, Level = LogLevel.Warning, Message = "Drift status not published: {Reason}")]
    public static partial void DriftPublishFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 803, Level = LogLevel.Warning, Message = "Occlusion check failed: {Reason}")]
    public static partial void OcclusionCheckFailed(ILogger logger, string reason);
}
