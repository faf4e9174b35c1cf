using Edge.Sync.Mqtt;
using Microsoft.Extensions.Logging;

namespace Edge.Sync;

/// <summary>Every log line of Edge.Sync, source-generated. Event ids are stable: 6xxx (issue 6), 61xx transport, 62xx outbox, 63xx publisher.</summary>
internal static partial class Log
{
    [LoggerMessage(6100, LogLevel.Information, "MQTT client {ClientId} for {Host}:{Port} created (libmosquitto {Version})")]
    public static partial void TransportCreated(ILogger logger, string clientId, string host, int port, string version);

    [LoggerMessage(6101, LogLevel.Information, "MQTT client {ClientId} connected to {Host}:{Port} (MQTT {Protocol}, session present {SessionPresent})")]
    public static partial void Connected(ILogger logger, string clientId, string host, int port, string protocol, bool sessionPresent);

    [LoggerMessage(6102, LogLevel.Warning, "MQTT {Kind}: {Message}")]
    public static partial void TransportError(ILogger logger, MqttErrorKind kind, string message);

    [LoggerMessage(6103, LogLevel.Information, "MQTT reconnect to {Host}:{Port}: attempt {Attempt} in {Delay} (last failure: {Reason})")]
    public static partial void ConnectRetry(ILogger logger, string host, int port, int attempt, TimeSpan delay, string? reason);

    [LoggerMessage(6104, LogLevel.Error, "MQTT circuit breaker for {Host}:{Port} opened for {BreakDuration} after repeated failures (last: {Reason})")]
    public static partial void CircuitOpened(ILogger logger, string host, int port, TimeSpan breakDuration, string? reason);

    [LoggerMessage(6105, LogLevel.Information, "MQTT circuit breaker for {Host}:{Port} closed")]
    public static partial void CircuitClosed(ILogger logger, string host, int port);

    [LoggerMessage(6106, LogLevel.Warning, "MQTT broker {Host}:{Port} refused MQTT 5; falling back to 3.1.1")]
    public static partial void ProtocolFallback(ILogger logger, string host, int port);

    [LoggerMessage(6107, LogLevel.Error, "MQTT connection supervisor failed; it goes on")]
    public static partial void SupervisorError(ILogger logger, Exception exception);

    [LoggerMessage(6108, LogLevel.Error, "MQTT network loop failed; it goes on")]
    public static partial void NetworkLoopError(ILogger logger, Exception exception);

    [LoggerMessage(6109, LogLevel.Error, "MQTT callback {Callback} failed (contained, not passed to libmosquitto)")]
    public static partial void CallbackFailed(ILogger logger, string callback, Exception exception);

    [LoggerMessage(6110, LogLevel.Warning, "MQTT broker refused the status message on {Topic}: {ReasonText} (0x{ReasonCode:X2})")]
    public static partial void StatusRefused(ILogger logger, string topic, int reasonCode, string reasonText);

    [LoggerMessage(6111, LogLevel.Warning, "MQTT status message on {Topic} not confirmed")]
    public static partial void StatusPublishFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(6112, LogLevel.Information, "MQTT subscribed to {Filter} (granted 0x{Granted:X2})")]
    public static partial void Subscribed(ILogger logger, string filter, int granted);

    [LoggerMessage(6113, LogLevel.Warning, "MQTT re-subscribe to {Filter} failed")]
    public static partial void ResubscribeFailed(ILogger logger, string filter, Exception exception);

    [LoggerMessage(6114, LogLevel.Warning, "MQTT receive buffer full ({Capacity} messages): pausing the socket until handlers catch up")]
    public static partial void ReceiveBackpressure(ILogger logger, int capacity);

    [LoggerMessage(6115, LogLevel.Error, "MQTT handler for {Filter} failed on {Topic}")]
    public static partial void HandlerFailed(ILogger logger, string filter, string topic, Exception exception);

    [LoggerMessage(6116, LogLevel.Debug, "MQTT client {ClientId}: {Previous} -> {Current}")]
    public static partial void StateChanged(ILogger logger, string clientId, MqttConnectionState previous, MqttConnectionState current);

    [LoggerMessage(6117, LogLevel.Information, "MQTT disconnect reason {Code}: {Text}")]
    public static partial void DisconnectReason(ILogger logger, int code, string text);

    [LoggerMessage(6118, LogLevel.Trace, "libmosquitto [{Level}] {Text}")]
    public static partial void LibraryLog(ILogger logger, int level, string? text);

    [LoggerMessage(6119, LogLevel.Warning, "MQTT disconnect did not finish cleanly")]
    public static partial void DisconnectFailed(ILogger logger, Exception exception);

    [LoggerMessage(6120, LogLevel.Warning, "MQTT closing with {Count} received messages not yet handled: the connection is dropped without their PUBACKs, so the broker sends them again")]
    public static partial void AcknowledgementsAbandoned(ILogger logger, int count);
}

/// <summary>Outbox and publisher log lines.</summary>
internal static partial class Log
{
    [LoggerMessage(6200, LogLevel.Information, "Outbox {Path} open: {Pending} events ({Bytes} bytes) pending, synchronous={Synchronous}")]
    public static partial void OutboxOpened(ILogger logger, string path, long pending, long bytes, Outbox.OutboxSynchronous synchronous);

    [LoggerMessage(6201, LogLevel.Warning, "Event {EventId} refused: {Size} bytes is over Sync:Outbox:MaxEventBytes {Limit}")]
    public static partial void EventTooLarge(ILogger logger, string eventId, int size, int limit);

    [LoggerMessage(6202, LogLevel.Error, "Outbox {Path}: write of {Count} events failed (SQLite {Code}): {Message}; the events were refused and counted")]
    public static partial void OutboxWriteFailed(ILogger logger, string path, int count, int code, string message);

    [LoggerMessage(6203, LogLevel.Warning, "Outbox cap Sync:Outbox:MaxBytes {MaxBytes} reached: dropped the {Count} oldest pending events ({Bytes} bytes), policy DropOldest")]
    public static partial void OutboxCapDropped(ILogger logger, long count, long bytes, long maxBytes);

    [LoggerMessage(6204, LogLevel.Warning, "Outbox cap Sync:Outbox:MaxBytes {MaxBytes} reached: refused {Count} new events, policy RejectNew")]
    public static partial void OutboxFullRejected(ILogger logger, int count, long maxBytes);

    [LoggerMessage(6205, LogLevel.Warning, "Outbox: dropped {Count} events older than Sync:Outbox:MaxAge {MaxAge}")]
    public static partial void OutboxAgeDropped(ILogger logger, long count, TimeSpan maxAge);

    [LoggerMessage(6206, LogLevel.Error, "Outbox writer batch failed; it goes on")]
    public static partial void OutboxWriterFailed(ILogger logger, Exception exception);

    [LoggerMessage(6207, LogLevel.Warning, "Event {EventId} refused: {Problems}")]
    public static partial void EventInvalid(ILogger logger, string eventId, string problems);

    [LoggerMessage(6208, LogLevel.Warning, "The wall clock stepped by {Step} (against the monotonic clock); the ages of {Rows} pending events moved with it")]
    public static partial void OutboxClockStep(ILogger logger, TimeSpan step, int rows);

    [LoggerMessage(6300, LogLevel.Information, "Publisher started: {Pending} events pending in the outbox")]
    public static partial void PublisherStarted(ILogger logger, long pending);

    [LoggerMessage(6301, LogLevel.Error, "Broker refused event {EventId} for good: {ReasonText} (0x{ReasonCode:X2}); moved to the dead-letter table")]
    public static partial void EventDeadLettered(ILogger logger, string eventId, int reasonCode, string reasonText);

    [LoggerMessage(6302, LogLevel.Warning, "Broker refused event {EventId} for now: {ReasonText} (0x{ReasonCode:X2}); will retry")]
    public static partial void EventRefusedTransient(ILogger logger, string eventId, int reasonCode, string reasonText);

    [LoggerMessage(6303, LogLevel.Debug, "Publishing rewinds to the oldest unacknowledged event: {Reason}")]
    public static partial void PublisherRewind(ILogger logger, string reason);

    [LoggerMessage(6304, LogLevel.Error, "Publisher loop failed; it goes on")]
    public static partial void PublisherLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(6305, LogLevel.Information, "Publisher stopped: {Pending} events stay in the outbox for the next start")]
    public static partial void PublisherStopped(ILogger logger, long pending);

    [LoggerMessage(EventId = 6306, Message = "Sync health is {Status}: {Description}")]
    public static partial void HealthChanged(ILogger logger, LogLevel level, SyncHealthStatus status, string description);
}
