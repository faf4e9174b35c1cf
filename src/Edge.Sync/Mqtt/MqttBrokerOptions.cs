namespace Edge.Sync.Mqtt;

/// <summary>Which MQTT protocol version to speak.</summary>
public enum MqttProtocol
{
    /// <summary>MQTT 5, falling back to 3.1.1 when the broker refuses version 5.</summary>
    Auto,

    /// <summary>MQTT 5 only.</summary>
    V5,

    /// <summary>MQTT 3.1.1 only (no reason codes, no session-expiry property: the broker keeps the session by its own rule).</summary>
    V311,
}

/// <summary>How to reach the broker and how hard to try. Defaults suit a kiosk on a factory network.</summary>
public sealed class MqttBrokerOptions
{
    /// <summary>Broker host name or address. Default 127.0.0.1.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Broker TCP port, 1-65535. Default 1883 (8883 is usual with TLS).</summary>
    public int Port { get; set; } = 1883;

    /// <summary>MQTT client id, 1-128 characters; keep it stable so the broker keeps our session. Default: "edge-{site}-{kiosk}" when used by AddEdgeSync.</summary>
    public string? ClientId { get; set; }

    /// <summary>User name (optional).</summary>
    public string? Username { get; set; }

    /// <summary>Password (optional; requires <see cref="Username"/>).</summary>
    public string? Password { get; set; }

    /// <summary>Protocol version. Default <see cref="MqttProtocol.Auto"/> (5, then 3.1.1).</summary>
    public MqttProtocol Protocol { get; set; } = MqttProtocol.Auto;

    /// <summary>Keep-alive interval, 5 s to 18 h. Default 30 s.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Start a clean session on connect. Default false: the broker keeps our session and QoS 1 state.</summary>
    public bool CleanStart { get; set; }

    /// <summary>MQTT 5 session-expiry interval: how long the broker keeps our session while we are away, 0 to 136 years. Default 1 day.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromDays(1);

    /// <summary>TLS settings.</summary>
    public MqttTlsOptions Tls { get; set; } = new();

    /// <summary>Time allowed for one connect attempt (TCP, TLS, CONNACK), 1 s to 5 min. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for a PUBACK or SUBACK, 1 s to 10 min. Default 30 s.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>First reconnect delay (exponential, jittered), 10 ms to 1 min. Default 1 s.</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest reconnect delay, at least <see cref="ReconnectMinDelay"/>, at most 1 h. Default 1 min.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Failed connect attempts (within <see cref="CircuitBreakerSampling"/>) that open the circuit breaker, 2-1000. Default 5.</summary>
    public int CircuitBreakerFailures { get; set; } = 5;

    /// <summary>Window in which the breaker counts failures, 1 s to 1 h. Default 2 min.</summary>
    public TimeSpan CircuitBreakerSampling { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long the open breaker pauses connect attempts, 500 ms to 1 h. Default 30 s.</summary>
    public TimeSpan CircuitBreakerBreak { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>QoS 1 publishes awaiting PUBACK at once, 1-20000 (packet ids are 16-bit). Default 1000.</summary>
    public int MaxInFlight { get; set; } = 1000;

    /// <summary>MQTT 5 receive maximum we announce (unacknowledged QoS 1 messages the broker may send us), 1-65535. Default 1000.</summary>
    public int ReceiveMaximum { get; set; } = 1000;

    /// <summary>Received messages buffered for handlers, 16-1,000,000. Default 10000. When full, reading from the socket pauses (TCP backpressure) rather than dropping.</summary>
    public int ReceiveBufferCapacity { get; set; } = 10_000;

    /// <summary>
    /// Subscriber side: write the PUBACK of each received QoS 1 message only after it is handled (its handlers returned, and
    /// the consumer acknowledged it where it subscribed with <see cref="MqttAcknowledgement.ByConsumer"/>). Until then the
    /// broker keeps the message and sends it again to a new connection with the same client id, so a crash loses nothing.
    /// All outgoing packets wait while any delivery is unhandled (libmosquitto has one outgoing queue), and reading pauses
    /// until every delivery so far is handled: a consumer must acknowledge what it holds without waiting for more
    /// (<see cref="MosquittoTransport.AcknowledgementWaitChanged"/> tells it when the transport waits). Each such cycle
    /// carries up to <see cref="ReceiveMaximum"/> messages (MQTT 5; under 3.1.1 the broker's max_inflight_messages).
    /// Subscribe before connecting, so messages the broker sends again right after CONNACK find their handler.
    /// Default false: libmosquitto's own behaviour (PUBACK before the handler runs), which publishers such as the kiosk keep.
    /// </summary>
    public bool AckAfterHandled { get; set; }

    /// <summary>Retained availability topic: the Last Will says offline, and a status saying online follows each connect. Null for none.</summary>
    public string? StatusTopic { get; set; }

    /// <summary>
    /// Code only, never bound from configuration: builds the retained payload published on <see cref="StatusTopic"/>
    /// (argument: online). Null publishes the UTF-8 text <c>online</c> / <c>offline</c>, which suits generic use and tests;
    /// <c>AddEdgeSync</c> sets it to the contract's <c>KioskStatus</c> protobuf. The offline payload is also the Last Will,
    /// which is handed to libmosquitto before each connect, so it is built at connect time: a time in it is the connect
    /// time. The online payload is built just before the will (and published after CONNACK), so the will is never older
    /// than it. Only a 3.1.1 planned stop builds an offline payload later, when it publishes it.
    /// </summary>
    public Func<bool, byte[]>? StatusPayload { get; set; }

    /// <summary>Problems with these options, each naming its configuration key under <paramref name="prefix"/>.</summary>
    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new List<string>();
        void Range(TimeSpan value, TimeSpan min, TimeSpan max, string key)
        {
            if (value < min || value > max)
            {
                errors.Add($"{prefix}:{key} is {value}; it must be between {min} and {max}.");
            }
        }

        if (string.IsNullOrWhiteSpace(Host))
        {
            errors.Add($"{prefix}:Host is empty; set the broker host name or address.");
        }

        if (Port is < 1 or > 65535)
        {
            errors.Add($"{prefix}:Port is {Port}; it must be between 1 and 65535.");
        }

        if (ClientId is { } id && (id.Length is 0 or > 128 || id.Any(c => char.IsControl(c) || c is '+' or '#' or '/')))
        {
            errors.Add($"{prefix}:ClientId '{id}' must be 1-128 characters without control characters, '+', '#' or '/'.");
        }

        if (Password is not null && string.IsNullOrEmpty(Username))
        {
            errors.Add($"{prefix}:Password is set but {prefix}:Username is not.");
        }

        Range(KeepAlive, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(65535), nameof(KeepAlive));
        Range(SessionExpiry, TimeSpan.Zero, TimeSpan.FromSeconds(uint.MaxValue), nameof(SessionExpiry));
        Range(ConnectTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), nameof(ConnectTimeout));
        Range(PublishTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10), nameof(PublishTimeout));
        Range(ReconnectMinDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1), nameof(ReconnectMinDelay));
        Range(ReconnectMaxDelay, ReconnectMinDelay, TimeSpan.FromHours(1), nameof(ReconnectMaxDelay));
        Range(CircuitBreakerSampling, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), nameof(CircuitBreakerSampling));
        Range(CircuitBreakerBreak, TimeSpan.FromMilliseconds(500), TimeSpan.FromHours(1), nameof(CircuitBreakerBreak));
        if (CircuitBreakerFailures is < 2 or > 1000)
        {
            errors.Add($"{prefix}:CircuitBreakerFailures is {CircuitBreakerFailures}; it must be between 2 and 1000.");
        }

        if (MaxInFlight is < 1 or > 20_000)
        {
            errors.Add($"{prefix}:MaxInFlight is {MaxInFlight}; it must be between 1 and 20000.");
        }

        if (ReceiveMaximum is < 1 or > 65535)
        {
            errors.Add($"{prefix}:ReceiveMaximum is {ReceiveMaximum}; it must be between 1 and 65535.");
        }

        if (ReceiveBufferCapacity is < 16 or > 1_000_000)
        {
            errors.Add($"{prefix}:ReceiveBufferCapacity is {ReceiveBufferCapacity}; it must be between 16 and 1000000.");
        }

        if (Tls.Enabled && Tls.CaFile is null && Tls.CaPath is null)
        {
            errors.Add($"{prefix}:Tls:CaFile or {prefix}:Tls:CaPath must be set when {prefix}:Tls:Enabled is true.");
        }

        if ((Tls.CertFile is null) != (Tls.KeyFile is null))
        {
            errors.Add($"{prefix}:Tls:CertFile and {prefix}:Tls:KeyFile must be set together (client certificate).");
        }

        foreach (var (key, path) in new[] { ("CaFile", Tls.CaFile), ("CertFile", Tls.CertFile), ("KeyFile", Tls.KeyFile) })
        {
            if (Tls.Enabled && path is not null && !File.Exists(path))
            {
                errors.Add($"{prefix}:Tls:{key} '{path}' does not exist.");
            }
        }

        return errors;
    }
}

/// <summary>TLS for the broker connection (OpenSSL through libmosquitto).</summary>
public sealed class MqttTlsOptions
{
    /// <summary>Use TLS. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>PEM file of trusted CA certificates.</summary>
    public string? CaFile { get; set; }

    /// <summary>Directory of trusted CA certificates (hashed names, as c_rehash makes).</summary>
    public string? CaPath { get; set; }

    /// <summary>PEM client certificate (with <see cref="KeyFile"/>), for brokers that require one.</summary>
    public string? CertFile { get; set; }

    /// <summary>PEM private key of the client certificate (unencrypted).</summary>
    public string? KeyFile { get; set; }

    /// <summary>Skip the host-name check of the broker certificate. Default false; only for test rigs.</summary>
    public bool AllowUntrustedHostname { get; set; }
}
