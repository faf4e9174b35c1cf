namespace Edge.Sync.Mqtt;

/// <summary>
/// A small MQTT client: one connection that keeps itself connected (reconnect with backoff and a circuit breaker),
/// QoS 0/1 publish confirmed per message, and subscriptions (also <c>$share/group/filter</c>) delivered off the
/// network thread. Implemented over libmosquitto by <see cref="MosquittoTransport"/>.
/// </summary>
public interface IMqttTransport : IAsyncDisposable
{
    /// <summary>The MQTT client id (stable across restarts so the broker keeps our session).</summary>
    string ClientId { get; }

    /// <summary>The connection state now.</summary>
    MqttConnectionState State { get; }

    /// <summary>The most recent connection or protocol error, or null after a clean connect.</summary>
    MqttTransportError? LastError { get; }

    /// <summary>Connections re-established after a loss since this instance was created.</summary>
    long ReconnectCount { get; }

    /// <summary>Raised (off the network thread, in order) when <see cref="State"/> changes.</summary>
    event EventHandler<MqttStateChangedEventArgs>? StateChanged;

    /// <summary>
    /// Starts the connection supervisor if it is not running (it reconnects until <see cref="DisconnectAsync"/> or dispose)
    /// and completes once the broker accepted the connection. Cancelling only stops the wait, not the supervisor.
    /// </summary>
    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Publishes one message. For QoS 1 the task completes when the broker's PUBACK arrives, with its reason code
    /// (codes ≥ 0x80 are refusals, see <see cref="MqttPublishResult.IsSuccess"/>). Throws <see cref="MqttNotConnectedException"/>
    /// when not connected or when the connection is lost before the PUBACK, and <see cref="TimeoutException"/> after the publish timeout.
    /// </summary>
    Task<MqttPublishResult> PublishAsync(string topic, ReadOnlyMemory<byte> payload, MqttQos qos, bool retain, CancellationToken cancellationToken);

    /// <summary>
    /// Subscribes (and re-subscribes after every reconnect) and routes matching messages to <paramref name="handler"/>,
    /// one at a time, off the network thread. Completes on SUBACK; throws when the broker refuses the filter.
    /// </summary>
    Task SubscribeAsync(string topicFilter, MqttQos qos, Func<MqttMessage, CancellationToken, ValueTask> handler, CancellationToken cancellationToken);

    /// <summary>Stops the supervisor and sends DISCONNECT (the broker does not publish the Last Will).</summary>
    Task DisconnectAsync(CancellationToken cancellationToken);
}

/// <summary>MQTT quality of service levels this transport offers.</summary>
public enum MqttQos
{
    /// <summary>At most once.</summary>
    AtMostOnce = 0,

    /// <summary>At least once: the broker confirms each message with PUBACK.</summary>
    AtLeastOnce = 1,
}

/// <summary>Connection states.</summary>
public enum MqttConnectionState
{
    /// <summary>Not connected and not trying (before <see cref="IMqttTransport.ConnectAsync"/> or after disconnect).</summary>
    Disconnected,

    /// <summary>A connect attempt is running.</summary>
    Connecting,

    /// <summary>The broker accepted the connection.</summary>
    Connected,

    /// <summary>Lost or refused; the supervisor waits its backoff before the next attempt.</summary>
    WaitingToReconnect,

    /// <summary>Too many failures in a row: the circuit breaker is open and attempts pause for its break duration.</summary>
    CircuitOpen,

    /// <summary>Disposed.</summary>
    Closed,
}

/// <summary>What went wrong, in words, with the library code and (for refusals) the broker's reason code.</summary>
/// <param name="Kind">The class of failure: decides the health state and the advice in the log.</param>
/// <param name="Message">Human-readable, names the broker and the reason.</param>
/// <param name="LibraryCode">libmosquitto's <c>mosq_err_t</c> (0 when not from the library).</param>
/// <param name="ReasonCode">The broker's CONNACK/DISCONNECT reason code, when there was one.</param>
/// <param name="At">When it happened.</param>
public sealed record MqttTransportError(MqttErrorKind Kind, string Message, int LibraryCode, int? ReasonCode, DateTimeOffset At);

/// <summary>Classes of transport failure.</summary>
public enum MqttErrorKind
{
    /// <summary>The broker could not be reached (DNS, refused, timeout, connection lost).</summary>
    Unreachable,

    /// <summary>The broker refused our credentials or authorisation.</summary>
    NotAuthorized,

    /// <summary>TLS set-up or handshake failed (certificates, host name, protocol).</summary>
    Tls,

    /// <summary>The broker refused the protocol version or another connect property.</summary>
    Protocol,

    /// <summary>Anything else.</summary>
    Other,
}

/// <summary>Outcome of a confirmed publish.</summary>
/// <param name="MessageId">The MQTT packet id.</param>
/// <param name="ReasonCode">PUBACK reason code (MQTT 5; 0 under 3.1.1). 0x10 "no matching subscribers" is a success.</param>
public readonly record struct MqttPublishResult(int MessageId, int ReasonCode)
{
    /// <summary>True when the broker accepted the message (reason code below 0x80).</summary>
    public bool IsSuccess => ReasonCode < 0x80;
}

/// <summary>A received message; <see cref="Payload"/> is owned by the handler.</summary>
/// <param name="Topic">The topic it was published on.</param>
/// <param name="Payload">The payload bytes (a copy).</param>
/// <param name="Qos">The QoS it was delivered with.</param>
/// <param name="Retain">Whether it came from the retained store.</param>
public sealed record MqttMessage(string Topic, ReadOnlyMemory<byte> Payload, MqttQos Qos, bool Retain)
{
    /// <summary>
    /// The delivery's number when the transport holds its PUBACK until the message is handled
    /// (<see cref="MqttBrokerOptions.AckAfterHandled"/> and QoS 1), for <see cref="MosquittoTransport.Acknowledge"/>; 0 otherwise.
    /// Numbers are never reused within one transport.
    /// </summary>
    public long Sequence { get; init; }
}

/// <summary>Who says that a delivered QoS 1 message is safe, when the transport holds PUBACKs (<see cref="MqttBrokerOptions.AckAfterHandled"/>).</summary>
public enum MqttAcknowledgement
{
    /// <summary>The message counts as handled when the subscription's handler returns (or throws).</summary>
    WhenHandled,

    /// <summary>
    /// The handler hands the message on: it is handled only when the consumer calls
    /// <see cref="MosquittoTransport.Acknowledge"/> with its <see cref="MqttMessage.Sequence"/> (once), for example after the
    /// database commit that stores it. A handler that throws counts as that call.
    /// </summary>
    ByConsumer,
}

/// <summary>Arguments of <see cref="IMqttTransport.StateChanged"/>.</summary>
public sealed class MqttStateChangedEventArgs(MqttConnectionState previous, MqttConnectionState current, MqttTransportError? error) : EventArgs
{
    /// <summary>The state before.</summary>
    public MqttConnectionState Previous { get; } = previous;

    /// <summary>The state now.</summary>
    public MqttConnectionState Current { get; } = current;

    /// <summary>The error that caused the change, if any.</summary>
    public MqttTransportError? Error { get; } = error;
}

/// <summary>A failure reported by libmosquitto or the broker.</summary>
public class MqttTransportException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MqttTransportException(string message, int libraryCode, int? reasonCode = null, MqttErrorKind kind = MqttErrorKind.Other)
        : base(message)
    {
        LibraryCode = libraryCode;
        ReasonCode = reasonCode;
        Kind = kind;
    }

    /// <summary>Creates the exception.</summary>
    public MqttTransportException() : this("MQTT transport error", 0) { }

    /// <summary>Creates the exception.</summary>
    public MqttTransportException(string message) : this(message, 0) { }

    /// <summary>Creates the exception.</summary>
    public MqttTransportException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>libmosquitto's <c>mosq_err_t</c>.</summary>
    public int LibraryCode { get; }

    /// <summary>The broker's reason code, when there was one.</summary>
    public int? ReasonCode { get; }

    /// <summary>The class of failure.</summary>
    public MqttErrorKind Kind { get; }
}

/// <summary>The transport is not connected (or lost the connection before the broker confirmed).</summary>
public sealed class MqttNotConnectedException : MqttTransportException
{
    /// <summary>Creates the exception.</summary>
    public MqttNotConnectedException(string message) : base(message, 4, null, MqttErrorKind.Unreachable) { }

    /// <summary>Creates the exception.</summary>
    public MqttNotConnectedException() : this("not connected to the MQTT broker") { }

    /// <summary>Creates the exception.</summary>
    public MqttNotConnectedException(string message, Exception innerException) : base(message, innerException) { }
}
