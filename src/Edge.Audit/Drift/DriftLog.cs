using Microsoft.Extensions.Logging;

namespace Edge.Audit;

// The drift part of the audit store's log (event ids 80–89).
internal static partial class Log
{
    [LoggerMessage(80, LogLevel.Warning, "Drift status on {Topic} rejected: {Problem}")]
    public static partial void DriftRejected(ILogger logger, string topic, string problem);
}
