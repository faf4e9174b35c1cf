using Edge.Audit.Ingest;
using Microsoft.Extensions.Logging;

namespace Edge.Audit;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "Ingest rejected a message on {Topic}: {Reason} ({Detail})")]
    public static partial void IngestRejected(ILogger logger, string topic, RejectReason reason, string detail);

    [LoggerMessage(2, LogLevel.Error, "Writing a batch of {Count} messages failed (attempt {Attempt}, transient {Transient}); retrying")]
    public static partial void BatchWriteFailed(ILogger logger, Exception exception, int count, int attempt, bool transient);

    [LoggerMessage(3, LogLevel.Error, "Event {EventId} could not be stored and is dropped")]
    public static partial void EventDropped(ILogger logger, Exception exception, string eventId);

    [LoggerMessage(4, LogLevel.Information, "Schema migration {Version} ({Name}) applied")]
    public static partial void MigrationApplied(ILogger logger, int version, string name);

    [LoggerMessage(5, LogLevel.Information, "Retention removed {Events} events, {Heatmaps} heatmaps, {Crops} face crops")]
    public static partial void RetentionDone(ILogger logger, long events, long heatmaps, long crops);

    [LoggerMessage(6, LogLevel.Error, "The retention job failed; it runs again at the next scheduled time")]
    public static partial void RetentionFailed(ILogger logger, Exception exception);

    [LoggerMessage(7, LogLevel.Information, "Next retention run in {Delay}")]
    public static partial void RetentionScheduled(ILogger logger, TimeSpan delay);

    [LoggerMessage(8, LogLevel.Information, "Review {Action} on {EventId} by {Actor}")]
    public static partial void ReviewRecorded(ILogger logger, string action, string eventId, string actor);

    [LoggerMessage(9, LogLevel.Information, "MQTT ingest subscribed to {Filter}")]
    public static partial void Subscribed(ILogger logger, string filter);

    [LoggerMessage(10, LogLevel.Warning, "MQTT ingest: {Message}")]
    public static partial void MqttProblem(ILogger logger, string message);

    [LoggerMessage(11, LogLevel.Information, "Audit store ready ({Provider})")]
    public static partial void StoreReady(ILogger logger, StorageProvider provider);

    [LoggerMessage(12, LogLevel.Warning, "Could not read the kiosk statuses at start; the kiosks-online gauge counts from the next status on")]
    public static partial void KioskStatusesNotLoaded(ILogger logger, Exception exception);

    [LoggerMessage(13, LogLevel.Error, "{Count} kiosk statuses could not be stored and are dropped (the next status replaces them)")]
    public static partial void StatusesDropped(ILogger logger, Exception exception, int count);
}
