using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Edge.Sync.Mqtt.Native;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using static Edge.Sync.Mqtt.Native.MosquittoNative;

namespace Edge.Sync.Mqtt;

/// <summary>
/// <see cref="IMqttTransport"/> over libmosquitto. One dedicated network thread owns the socket: it connects and runs
/// <c>mosquitto_loop</c>; libmosquitto's callbacks run on it and only record results, complete tasks and hand messages to
/// bounded channels (they never throw into native code). A supervisor task keeps the connection up through a Polly
/// pipeline (jittered exponential retry → circuit breaker → timeout per attempt). The mosquitto handle has one owner,
/// a <see cref="MosquittoHandle"/>; the instance is reached from callbacks through a <see cref="GCHandle"/> user-data pointer.
/// <para>
/// With <see cref="MqttBrokerOptions.AckAfterHandled"/> the network thread runs its own loop instead of <c>mosquitto_loop</c>
/// (see <see cref="LoopHoldingAcks"/>): a received QoS 1 message's PUBACK reaches the socket only after the message is handled.
/// </para>
/// </summary>
public sealed class MosquittoTransport : IMqttTransport
{
    private const int RequestNone = 0;
    private const int RequestConnect = 1;
    private const int RequestDisconnect = 2;

    private readonly MqttBrokerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly MosquittoHandle _handle;
    private GCHandle _self;
    private readonly Thread _networkThread;
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Lock _gate = new();
    private readonly Dictionary<int, TaskCompletionSource<int>> _pendingPublishes = [];
    private long _lastPubAck; // _time's timestamp of the latest PUBACK for any message
    private readonly Dictionary<int, TaskCompletionSource<int>> _pendingSubscribes = [];
    private readonly List<Subscription> _subscriptions = [];
    private readonly SemaphoreSlim _inFlight;
    private readonly Channel<MqttMessage> _received;
    private readonly Channel<MqttStateChangedEventArgs> _stateEvents;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Task _messageDispatcher;
    private readonly Task _stateDispatcher;
    private readonly ResiliencePipeline _connectPipeline;
    private readonly ResiliencePipeline _ackPipeline;
    private readonly byte[]? _statusTopicUtf8;
    private byte[]? _onlineStatus; // built with the will in OpenSocket, published after CONNACK

    // AckAfterHandled: deliveries whose PUBACK is queued in libmosquitto but must not be written yet, by sequence, with the
    // number of parties still to settle each (the dispatcher, plus one per ByConsumer subscription that took it).
    private readonly bool _holdAcks;
    private readonly Lock _ackGate = new();
    private readonly Dictionary<long, int> _unsettled = [];
    private readonly EventFdHandle? _ackSignal; // wakes the network thread's poll: all settled, or a packet queued
    private int _unsettledCount; // _unsettled.Count, written under _ackGate, read by the network thread
    private long _lastSequence; // network thread only
    private bool _awaitingAcks; // network thread only: last value raised through AcknowledgementWaitChanged
    private bool _disconnectQueued; // network thread only
    private long _disconnectGiveUpAt; // network thread only: timestamp after which a disconnect stops waiting for acks

    private volatile MqttConnectionState _state = MqttConnectionState.Disconnected;
    private volatile MqttTransportError? _lastError;
    private volatile bool _stopNetwork;
    private bool _disconnecting; // network thread only
    private int _request;
    private long _connection; // guarded by _gate: counts successful CONNACKs, so each connection has its own number
    private int _protocol;
    private TaskCompletionSource<bool>? _attempt;
    private TaskCompletionSource _connected = NewSignal();
    private TaskCompletionSource _lost = NewSignal();
    private CancellationTokenSource? _supervisorCts;
    private Task? _supervisor;
    private long _reconnects;
    private long _connectFailures;
    private int _disposeStarted;
    private int _disposed;

    /// <summary>Creates the client (nothing is sent until <see cref="ConnectAsync"/>).</summary>
    /// <exception cref="MqttTransportException">libmosquitto could not be loaded or refused the TLS/credential settings.</exception>
    public MosquittoTransport(MqttBrokerOptions options, ILogger<MosquittoTransport> logger, TimeProvider timeProvider)
    {
        _options = options;
        _logger = logger;
        _time = timeProvider;
        var errors = options.Validate("Broker");
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        }

        var version = EnsureInitialised();
        ClientId = options.ClientId ?? $"edge-{Guid.NewGuid():N}";
        _protocol = options.Protocol == MqttProtocol.V311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
        _statusTopicUtf8 = options.StatusTopic is null ? null : Utf8Z(options.StatusTopic);
        _inFlight = new SemaphoreSlim(options.MaxInFlight, options.MaxInFlight);
        _received = Channel.CreateBounded<MqttMessage>(new BoundedChannelOptions(options.ReceiveBufferCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _stateEvents = Channel.CreateBounded<MqttStateChangedEventArgs>(new BoundedChannelOptions(256)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropOldest,
        });

        _holdAcks = options.AckAfterHandled;
        _ackSignal = _holdAcks ? EventFdHandle.Create() : null;
        _self = GCHandle.Alloc(this, GCHandleType.Normal);
        var raw = New(ClientId, options.CleanStart, GCHandle.ToIntPtr(_self));
        if (raw == IntPtr.Zero)
        {
            _self.Free();
            _ackSignal?.Dispose();
            throw new MqttTransportException("mosquitto_new failed (out of memory or invalid client id)", MOSQ_ERR_NOMEM);
        }

        _handle = new MosquittoHandle(raw);
        try
        {
            Configure();
        }
        catch
        {
            _handle.Dispose();
            _self.Free();
            _ackSignal?.Dispose();
            throw;
        }

        _connectPipeline = BuildConnectPipeline();
        _ackPipeline = new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddTimeout(options.PublishTimeout)
            .Build();

        _networkThread = new Thread(NetworkLoop) { IsBackground = true, Name = $"mqtt-{ClientId}" };
        _networkThread.Start();
        _messageDispatcher = Task.Run(DispatchMessagesAsync);
        _stateDispatcher = Task.Run(DispatchStateEventsAsync);
        Log.TransportCreated(_logger, ClientId, options.Host, options.Port, $"{version.Major}.{version.Minor}.{version.Revision}");
    }

    /// <inheritdoc />
    public string ClientId { get; }

    /// <inheritdoc />
    public MqttConnectionState State => _state;

    /// <inheritdoc />
    public MqttTransportError? LastError => _lastError;

    /// <inheritdoc />
    public long ReconnectCount => Interlocked.Read(ref _reconnects);

    /// <summary>Connect attempts that failed since this instance was created.</summary>
    public long ConnectFailureCount => Interlocked.Read(ref _connectFailures);

    /// <summary>The protocol version in use: 5 or 4 (3.1.1).</summary>
    public int ProtocolVersion => Volatile.Read(ref _protocol);

    /// <inheritdoc />
    public event EventHandler<MqttStateChangedEventArgs>? StateChanged;

    /// <summary>
    /// With <see cref="MqttBrokerOptions.AckAfterHandled"/>: raised on the network thread with true when it stops reading to
    /// wait until every delivery so far is handled, and with false when that wait ends. A consumer that batches can commit
    /// at once on true instead of waiting for more messages: none come before it acknowledges. Handlers must be quick.
    /// </summary>
    public event EventHandler<bool>? AcknowledgementWaitChanged;

    /// <summary>Deliveries whose PUBACK waits for handling on the current connection (always 0 without AckAfterHandled).</summary>
    public int UnacknowledgedCount => Volatile.Read(ref _unsettledCount);

    /// <summary>Test hook: the socket descriptor (to cut the connection the way a network failure would).</summary>
    internal int SocketDescriptor => Socket(_handle);

    /// <inheritdoc />
    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        lock (_gate)
        {
            if (_supervisor is null || _supervisor.IsCompleted)
            {
                _supervisorCts = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
                var token = _supervisorCts.Token;
                _supervisor = Task.Run(() => SuperviseAsync(token), CancellationToken.None);
            }
        }

        return WaitConnectedAsync(cancellationToken);
    }

    /// <summary>Completes when the transport is connected (it does not start the supervisor).</summary>
    public Task WaitConnectedAsync(CancellationToken cancellationToken)
    {
        Task signal;
        lock (_gate)
        {
            signal = _connected.Task;
        }

        return signal.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<MqttPublishResult> PublishAsync(string topic, ReadOnlyMemory<byte> payload, MqttQos qos, bool retain, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        var mid = 0;
        try
        {
            var ack = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            var topicUtf8 = Utf8Z(topic);
            int rc;
            lock (_gate)
            {
                if (_state != MqttConnectionState.Connected)
                {
                    throw new MqttNotConnectedException($"not connected to {_options.Host}:{_options.Port} (state {_state})");
                }

                rc = NativePublish(topicUtf8, payload.Span, qos, retain, out mid);

                if (rc == MOSQ_ERR_SUCCESS)
                {
                    _pendingPublishes[mid] = ack;
                }
            }

            if (_holdAcks)
            {
                SignalAckLoop(); // libmosquitto's own wake-up is for mosquitto_loop, which this mode does not run
            }

            if (rc != MOSQ_ERR_SUCCESS)
            {
                throw rc is MOSQ_ERR_NO_CONN or MOSQ_ERR_CONN_LOST
                    ? new MqttNotConnectedException($"publish to '{topic}' failed: {ErrorText(rc)}")
                    : new MqttTransportException($"publish to '{topic}' ({payload.Length} bytes) refused by libmosquitto: {ErrorText(rc)}", rc);
            }

            return new MqttPublishResult(mid, await WaitPubAckAsync(ack, cancellationToken).ConfigureAwait(false));
        }
        catch (TimeoutException ex)
        {
            Forget(_pendingPublishes, mid);
            throw new TimeoutException($"no PUBACK for message {mid} on '{topic}', nor for any other, within {_options.PublishTimeout}", ex);
        }
        catch (OperationCanceledException)
        {
            Forget(_pendingPublishes, mid);
            throw;
        }
        finally
        {
            _inFlight.Release();
        }
    }

    /// <inheritdoc />
    public Task SubscribeAsync(string topicFilter, MqttQos qos, Func<MqttMessage, CancellationToken, ValueTask> handler, CancellationToken cancellationToken) =>
        SubscribeAsync(topicFilter, qos, handler, MqttAcknowledgement.WhenHandled, cancellationToken);

    /// <summary>
    /// <see cref="SubscribeAsync(string, MqttQos, Func{MqttMessage, CancellationToken, ValueTask}, CancellationToken)"/> where
    /// <paramref name="acknowledgement"/> says when a QoS 1 delivery counts as handled, which decides when its PUBACK is
    /// written under <see cref="MqttBrokerOptions.AckAfterHandled"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="MqttAcknowledgement.ByConsumer"/> without AckAfterHandled.</exception>
    public async Task SubscribeAsync(string topicFilter, MqttQos qos, Func<MqttMessage, CancellationToken, ValueTask> handler, MqttAcknowledgement acknowledgement, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentException.ThrowIfNullOrEmpty(topicFilter);
        ArgumentNullException.ThrowIfNull(handler);
        if (acknowledgement == MqttAcknowledgement.ByConsumer && !_holdAcks)
        {
            throw new InvalidOperationException($"'{topicFilter}': acknowledgement by the consumer needs MqttBrokerOptions.AckAfterHandled, or the PUBACK is sent before the consumer sees the message.");
        }

        var subscription = new Subscription(topicFilter, qos, handler, acknowledgement);
        lock (_gate)
        {
            _subscriptions.Add(subscription);
        }

        // If this runs while connecting, the on-connect re-subscribe may get there first: whichever of the two claims the
        // subscription for the new connection sends the one SUBSCRIBE, and the other waits for its SUBACK. Sending it twice
        // would make the broker deliver the retained messages twice.
        await WaitConnectedAsync(cancellationToken).ConfigureAwait(false);
        await EnsureSubscribedAsync([subscription], waitForOthers: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Settles a delivery taken by a <see cref="MqttAcknowledgement.ByConsumer"/> subscription: the message is safe (stored,
    /// or refused for good). Once every delivery read so far is settled, the network thread writes the PUBACKs and reads on.
    /// Call it once per delivery and subscription; numbers from an earlier connection, 0 and repeats are ignored (the
    /// broker sends an unacknowledged message again after a reconnect, under a new number). Thread-safe and cheap.
    /// </summary>
    public void Acknowledge(long sequence)
    {
        if (sequence > 0 && _holdAcks)
        {
            Settle(sequence);
        }
    }

    /// <inheritdoc />
    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        Task? supervisor;
        lock (_gate)
        {
            supervisor = _supervisor;
            _supervisorCts?.Cancel();
        }

        if (supervisor is not null)
        {
            try
            {
                await supervisor.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // the supervisor ends by cancellation; that is the normal way out
            }
        }

        if (_state == MqttConnectionState.Connected && _statusTopicUtf8 is not null && ProtocolVersion != MQTT_PROTOCOL_V5)
        {
            try
            {
                await PublishAsync(_options.StatusTopic!, StatusPayload(online: false), MqttQos.AtLeastOnce, retain: true, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MqttTransportException or TimeoutException)
            {
                Log.StatusPublishFailed(_logger, _options.StatusTopic!, ex);
            }
        }

        if (_state is MqttConnectionState.Connected or MqttConnectionState.Connecting)
        {
            var closed = _lost.Task;
            Volatile.Write(ref _request, RequestDisconnect);
            WakeNetworkThread();
            await closed.WaitAsync(_options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }

        SetState(MqttConnectionState.Disconnected, null);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) != 0)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(_options.ConnectTimeout);
            await DisconnectAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or MqttTransportException)
        {
            Log.DisconnectFailed(_logger, ex);
        }

        Volatile.Write(ref _disposed, 1);

        _stopNetwork = true;
        WakeNetworkThread();
        await _lifetime.CancelAsync().ConfigureAwait(false);
        _networkThread.Join();
        _received.Writer.TryComplete();
        _stateEvents.Writer.TryComplete();
        await Task.WhenAll(_messageDispatcher, _stateDispatcher).ConfigureAwait(false);
        SetStateNoEvent(MqttConnectionState.Closed);
        _handle.Dispose();
        _self.Free();
        _lifetime.Dispose();
        _supervisorCts?.Dispose();
        _wake.Dispose();
        _inFlight.Dispose();
        _ackSignal?.Dispose();
    }

    private unsafe void Configure()
    {
        Check(ThreadedSet(_handle, true), "mosquitto_threaded_set");
        Check(IntOption(_handle, MOSQ_OPT_TCP_NODELAY, 1), "MOSQ_OPT_TCP_NODELAY");
        Check(IntOption(_handle, MOSQ_OPT_RECEIVE_MAXIMUM, _options.ReceiveMaximum), "MOSQ_OPT_RECEIVE_MAXIMUM");
        if (_options.Username is not null)
        {
            Check(UsernamePwSet(_handle, _options.Username, _options.Password), "mosquitto_username_pw_set");
        }

        if (_options.Tls.Enabled)
        {
            var tls = _options.Tls;
            var rc = TlsSet(_handle, tls.CaFile, tls.CaPath, tls.CertFile, tls.KeyFile, IntPtr.Zero);
            if (rc != MOSQ_ERR_SUCCESS)
            {
                throw new MqttTransportException(
                    $"TLS settings refused by libmosquitto ({ErrorText(rc)}): check Broker:Tls:CaFile/CaPath/CertFile/KeyFile", rc, null, MqttErrorKind.Tls);
            }

            Check(TlsInsecureSet(_handle, tls.AllowUntrustedHostname), "mosquitto_tls_insecure_set");
        }

        ConnectV5CallbackSet(_handle, &OnConnectNative);
        DisconnectV5CallbackSet(_handle, &OnDisconnectNative);
        PublishV5CallbackSet(_handle, &OnPublishNative);
        SubscribeV5CallbackSet(_handle, &OnSubscribeNative);
        MessageV5CallbackSet(_handle, &OnMessageNative);
        LogCallbackSet(_handle, &OnLogNative);
    }

    private static void Check(int rc, string what)
    {
        if (rc != MOSQ_ERR_SUCCESS)
        {
            throw new MqttTransportException($"{what} failed: {ErrorText(rc)}", rc);
        }
    }

    private ResiliencePipeline BuildConnectPipeline()
    {
        var handled = new PredicateBuilder()
            .Handle<MqttTransportException>()
            .Handle<TimeoutRejectedException>();
        return new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<MqttTransportException>().Handle<TimeoutRejectedException>().Handle<BrokenCircuitException>(),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.ReconnectMinDelay,
                MaxDelay = _options.ReconnectMaxDelay,
                MaxRetryAttempts = int.MaxValue,
                DelayGenerator = static args => new ValueTask<TimeSpan?>(
                    args.Outcome.Exception is BrokenCircuitException { RetryAfter: { } after } ? after : null),
                OnRetry = args =>
                {
                    if (args.Outcome.Exception is not BrokenCircuitException)
                    {
                        Log.ConnectRetry(_logger, _options.Host, _options.Port, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception?.Message);
                    }

                    if (_state != MqttConnectionState.CircuitOpen)
                    {
                        SetState(MqttConnectionState.WaitingToReconnect, _lastError);
                    }

                    return ValueTask.CompletedTask;
                },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = handled,
                FailureRatio = 1.0,
                MinimumThroughput = _options.CircuitBreakerFailures,
                SamplingDuration = _options.CircuitBreakerSampling,
                BreakDuration = _options.CircuitBreakerBreak,
                OnOpened = args =>
                {
                    Log.CircuitOpened(_logger, _options.Host, _options.Port, args.BreakDuration, _lastError?.Message);
                    SetState(MqttConnectionState.CircuitOpen, _lastError);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    Log.CircuitClosed(_logger, _options.Host, _options.Port);
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(_options.ConnectTimeout)
            .Build();
    }

    private async Task SuperviseAsync(CancellationToken cancellationToken)
    {
        var first = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await _connectPipeline.ExecuteAsync(ConnectOnceAsync, cancellationToken).ConfigureAwait(false);
                if (!first)
                {
                    Interlocked.Increment(ref _reconnects);
                }

                first = false;
                Task lost;
                lock (_gate)
                {
                    lost = _lost.Task;
                }

                await AfterConnectAsync(cancellationToken).ConfigureAwait(false);
                await lost.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Per-iteration safety net: log and go on (the pipeline handles the expected failures).
                Log.SupervisorError(_logger, ex);
                await Task.Delay(_options.ReconnectMinDelay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask ConnectOnceAsync(CancellationToken cancellationToken)
    {
        var attempt = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_state == MqttConnectionState.Connected)
            {
                return;
            }

            _attempt = attempt;
        }

        SetState(MqttConnectionState.Connecting, _lastError);
        Volatile.Write(ref _request, RequestConnect);
        WakeNetworkThread();
        try
        {
            var sessionPresent = await attempt.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            Log.Connected(_logger, ClientId, _options.Host, _options.Port, ProtocolVersion == MQTT_PROTOCOL_V5 ? "5" : "3.1.1", sessionPresent);
        }
        catch (MqttTransportException ex)
        {
            Interlocked.Increment(ref _connectFailures);
            if (ex.Kind == MqttErrorKind.Protocol && _options.Protocol == MqttProtocol.Auto && ProtocolVersion == MQTT_PROTOCOL_V5)
            {
                Volatile.Write(ref _protocol, MQTT_PROTOCOL_V311);
                Log.ProtocolFallback(_logger, _options.Host, _options.Port);
            }

            throw;
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _connectFailures);
            RecordError(MqttErrorKind.Unreachable, $"no CONNACK from {_options.Host}:{_options.Port} within {_options.ConnectTimeout}", 0, null);
            throw;
        }
    }

    private async Task AfterConnectAsync(CancellationToken cancellationToken)
    {
        if (_statusTopicUtf8 is not null)
        {
            try
            {
                var online = Volatile.Read(ref _onlineStatus) ?? StatusPayload(online: true);
                var result = await PublishAsync(_options.StatusTopic!, online, MqttQos.AtLeastOnce, retain: true, cancellationToken).ConfigureAwait(false);
                if (!result.IsSuccess)
                {
                    Log.StatusRefused(_logger, _options.StatusTopic!, result.ReasonCode, ReasonText(result.ReasonCode));
                }
            }
            catch (Exception ex) when (ex is MqttTransportException or TimeoutException)
            {
                Log.StatusPublishFailed(_logger, _options.StatusTopic!, ex);
            }
        }

        IGrouping<(string Filter, MqttQos Qos), Subscription>[] groups;
        lock (_gate)
        {
            groups = [.. _subscriptions.GroupBy(s => (s.Filter, s.Qos))];
        }

        foreach (var group in groups)
        {
            try
            {
                // Entries a concurrent SubscribeAsync already sent on this connection are skipped, not awaited.
                await EnsureSubscribedAsync([.. group], waitForOthers: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MqttTransportException or TimeoutException)
            {
                Log.ResubscribeFailed(_logger, group.Key.Filter, ex);
            }
        }
    }

    /// <summary>
    /// Sends one SUBSCRIBE for the entries of <paramref name="group"/> (same filter and QoS) that have not been sent on the
    /// current connection, and waits for its SUBACK. Claiming the entries and calling libmosquitto happen under one lock,
    /// so a subscription is sent exactly once per connection however SubscribeAsync and the on-connect re-subscribe interleave.
    /// With <paramref name="waitForOthers"/>, entries that another caller already sent are awaited too.
    /// </summary>
    private async Task EnsureSubscribedAsync(Subscription[] group, bool waitForOthers, CancellationToken cancellationToken)
    {
        var (filter, qos) = (group[0].Filter, group[0].Qos);
        var filterUtf8 = Utf8Z(filter);
        var ack = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = NewSignal();
        Task[] others;
        int rc, mid = 0;
        lock (_gate)
        {
            if (_state != MqttConnectionState.Connected)
            {
                throw new MqttNotConnectedException($"cannot subscribe to '{filter}': not connected");
            }

            var mine = group.Where(s => s.SentOnConnection != _connection).ToList();
            others = waitForOthers ? [.. group.Except(mine).Select(s => s.Sent!).Distinct()] : [];
            rc = MOSQ_ERR_SUCCESS;
            if (mine.Count > 0)
            {
                rc = NativeSubscribe(filterUtf8, qos, out mid);
                if (rc == MOSQ_ERR_SUCCESS)
                {
                    _pendingSubscribes[mid] = ack;
                    foreach (var subscription in mine)
                    {
                        subscription.SentOnConnection = _connection;
                        subscription.Sent = outcome.Task;
                    }
                }
            }
        }

        if (rc != MOSQ_ERR_SUCCESS)
        {
            throw new MqttTransportException($"subscribe to '{filter}' failed: {ErrorText(rc)}", rc);
        }

        if (_holdAcks && mid != 0)
        {
            SignalAckLoop();
        }

        if (mid != 0)
        {
            try
            {
                await WaitSubAckAsync(filter, ack, mid, cancellationToken).ConfigureAwait(false);
                outcome.TrySetResult();
            }
            catch (Exception ex)
            {
                outcome.TrySetException(ex);
                throw;
            }
        }

        if (others.Length > 0)
        {
            await Task.WhenAll(others).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The PUBACK of one message. It times out only when the connection made no progress: PublishTimeout since the
    /// message was queued and since the latest PUBACK for any message. A fixed wait per message would expire for the last
    /// of MaxInFlight messages queued on a slow uplink while PUBACKs still flow, and each time the publisher would send
    /// them all again behind the copies libmosquitto still holds: the outbox would never drain.
    /// </summary>
    private async Task<int> WaitPubAckAsync(TaskCompletionSource<int> ack, CancellationToken cancellationToken)
    {
        var queued = _time.GetTimestamp();
        while (true)
        {
            var left = _options.PublishTimeout - _time.GetElapsedTime(Math.Max(queued, Volatile.Read(ref _lastPubAck)));
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException();
            }

            try
            {
                return await ack.Task.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // progress may have been made meanwhile: look again
            }
        }
    }

    private async Task WaitSubAckAsync(string filter, TaskCompletionSource<int> ack, int mid, CancellationToken cancellationToken)
    {
        int granted;
        try
        {
            granted = await _ackPipeline.ExecuteAsync(
                static (state, token) => new ValueTask<int>(state.Task.WaitAsync(token)), ack, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException ex)
        {
            Forget(_pendingSubscribes, mid);
            throw new TimeoutException($"no SUBACK for '{filter}' within {_options.PublishTimeout}", ex);
        }
        catch (OperationCanceledException)
        {
            Forget(_pendingSubscribes, mid);
            throw;
        }

        if (granted >= 0x80)
        {
            throw new MqttTransportException($"broker refused subscription '{filter}': {ReasonText(granted)} (0x{granted:X2})", 0, granted, MqttErrorKind.NotAuthorized);
        }

        Log.Subscribed(_logger, filter, granted);
    }

    private unsafe int NativePublish(byte[] topicUtf8, ReadOnlySpan<byte> payload, MqttQos qos, bool retain, out int mid)
    {
        fixed (byte* t = topicUtf8)
        fixed (byte* p = payload)
        {
            return PublishV5(_handle, out mid, t, payload.Length, p, (int)qos, retain, IntPtr.Zero);
        }
    }

    private unsafe int NativeSubscribe(byte[] filterUtf8, MqttQos qos, out int mid)
    {
        fixed (byte* f = filterUtf8)
        {
            return SubscribeV5(_handle, out mid, f, (int)qos, 0, IntPtr.Zero);
        }
    }

    private void Forget(Dictionary<int, TaskCompletionSource<int>> pending, int mid)
    {
        if (mid != 0)
        {
            lock (_gate)
            {
                pending.Remove(mid);
            }
        }
    }

    // ---- network thread ----

    private void NetworkLoop()
    {
        var open = false;
        while (!_stopNetwork)
        {
            try
            {
                var request = Interlocked.Exchange(ref _request, RequestNone);
                if (request == RequestConnect)
                {
                    if (open)
                    {
                        if (_holdAcks)
                        {
                            CloseHoldingAcks(0);
                        }
                        else
                        {
                            _ = DisconnectV5(_handle, 0, IntPtr.Zero);
                            _ = Loop(_handle, 10, 1);
                        }

                        open = false;
                        OnConnectionClosed(MOSQ_ERR_CONN_LOST, "replaced by a new connect attempt");
                    }

                    open = OpenSocket();
                }
                else if (request == RequestDisconnect && open)
                {
                    _disconnecting = true;
                    if (_holdAcks)
                    {
                        // LoopHoldingAcks sends DISCONNECT once every delivery is handled, or gives up and drops the connection.
                        _disconnectGiveUpAt = _time.GetTimestamp() + (long)(_options.ConnectTimeout.TotalSeconds / 2 * _time.TimestampFrequency);
                    }
                    else
                    {
                        _ = DisconnectV5(_handle, ShutdownReason, IntPtr.Zero);
                    }
                }

                if (open)
                {
                    var rc = _holdAcks ? LoopHoldingAcks() : Loop(_handle, 100, 1);
                    if (rc != MOSQ_ERR_SUCCESS)
                    {
                        open = false;
                        var asked = _disconnecting;
                        _disconnecting = false;
                        OnConnectionClosed(asked ? MOSQ_ERR_SUCCESS : rc, rc == MOSQ_ERR_ERRNO && !asked ? Marshal.GetLastPInvokeErrorMessage() : null);
                    }
                }
                else
                {
                    _wake.Wait(250);
                }
            }
            catch (Exception ex)
            {
                Log.NetworkLoopError(_logger, ex);
            }
        }

        if (open)
        {
            // Graceful close on dispose: DISCONNECT and a few loop passes to flush it.
            if (_holdAcks)
            {
                CloseHoldingAcks(0);
            }
            else
            {
                _ = DisconnectV5(_handle, 0, IntPtr.Zero);
                for (var i = 0; i < 10 && Loop(_handle, 10, 1) == MOSQ_ERR_SUCCESS; i++)
                {
                }
            }

            OnConnectionClosed(MOSQ_ERR_SUCCESS, "closed");
        }
    }

    /// <summary>
    /// One pass of the network loop under <see cref="MqttBrokerOptions.AckAfterHandled"/>, in place of <c>mosquitto_loop</c>.
    /// libmosquitto 2.0 queues the PUBACK of an incoming QoS 1 PUBLISH (handle__publish: send__puback, then on_message), and
    /// with threaded_set it writes queued packets only in mosquitto_loop_write (packet__queue just queues them), which sends
    /// the whole queue. So this pass writes only while every delivery read so far is settled (<see cref="UnacknowledgedCount"/>
    /// is 0): it writes, reads what the socket holds, then waits for the consumer's acknowledgements (reading nothing more,
    /// so the wait ends), then writes again. mosquitto_loop_misc runs every pass (at least every 100 ms), so keep-alive
    /// works: a PINGREQ it queues waits behind held PUBACKs, and if handling takes longer than the keep-alive the connection
    /// drops, which loses nothing. mosquitto_loop itself is never called here: it reads and writes in one call.
    /// </summary>
    private unsafe int LoopHoldingAcks()
    {
        var socket = Socket(_handle);
        if (socket < 0)
        {
            return MOSQ_ERR_NO_CONN;
        }

        var settled = Volatile.Read(ref _unsettledCount) == 0;
        if (_disconnecting)
        {
            if (settled && !_disconnectQueued)
            {
                _disconnectQueued = true;
                _ = DisconnectV5(_handle, ShutdownReason, IntPtr.Zero);
            }
            else if (!settled && _time.GetTimestamp() >= _disconnectGiveUpAt)
            {
                Log.AcknowledgementsAbandoned(_logger, Volatile.Read(ref _unsettledCount));
                return DropConnection(socket);
            }
        }

        int rc;
        if (settled && WantWrite(_handle))
        {
            rc = LoopWrite(_handle, 1);
            socket = Socket(_handle);
            if (rc != MOSQ_ERR_SUCCESS || socket < 0)
            {
                return rc != MOSQ_ERR_SUCCESS ? rc : MOSQ_ERR_NO_CONN; // after DISCONNECT libmosquitto closes the socket itself
            }
        }

        var read = settled && !_disconnecting;
        var write = settled && WantWrite(_handle); // what EAGAIN left unwritten
        var fds = stackalloc LibC.PollFd[2];
        fds[0] = new LibC.PollFd { Fd = socket, Events = (short)((read ? LibC.POLLIN : 0) | (write ? LibC.POLLOUT : 0) | LibC.POLLRDHUP) };
        fds[1] = new LibC.PollFd { Fd = _ackSignal!.Descriptor, Events = LibC.POLLIN };
        if (LibC.Poll(fds, 2, 100) < 0)
        {
            return Marshal.GetLastPInvokeError() == LibC.EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
        }

        if ((fds[1].Revents & LibC.POLLIN) != 0)
        {
            _ = LibC.EventFdRead(_ackSignal, out _);
        }

        if (!read && (fds[0].Revents & (LibC.POLLRDHUP | LibC.POLLHUP | LibC.POLLERR)) != 0)
        {
            // The broker closed (or the network failed) while we wait for the consumer: nothing held can reach it now, and
            // it sends those messages again to the next connection. Reconnect now rather than at the next keep-alive.
            return DropConnection(socket);
        }

        if (read && (fds[0].Revents & (LibC.POLLIN | LibC.POLLHUP | LibC.POLLERR)) != 0)
        {
            rc = ReadAvailable();
            if (rc != MOSQ_ERR_SUCCESS || Socket(_handle) < 0)
            {
                return rc != MOSQ_ERR_SUCCESS ? rc : MOSQ_ERR_NO_CONN;
            }
        }

        if (write && (fds[0].Revents & LibC.POLLOUT) != 0 && Volatile.Read(ref _unsettledCount) == 0)
        {
            rc = LoopWrite(_handle, 1);
            if (rc != MOSQ_ERR_SUCCESS)
            {
                return rc;
            }
        }

        rc = LoopMisc(_handle);
        if (rc == MOSQ_ERR_SUCCESS)
        {
            AnnounceWait(Volatile.Read(ref _unsettledCount) > 0);
        }

        return rc;
    }

    /// <summary>Reads packets while the socket has data (at most a receive-maximum's worth, so misc runs in between).</summary>
    private unsafe int ReadAvailable()
    {
        var limit = Math.Max(64, _options.ReceiveMaximum);
        for (var i = 0; i < limit; i++)
        {
            var rc = LoopRead(_handle, 1);
            var socket = Socket(_handle);
            if (rc != MOSQ_ERR_SUCCESS || socket < 0)
            {
                return rc;
            }

            var fd = new LibC.PollFd { Fd = socket, Events = LibC.POLLIN };
            if (LibC.Poll(&fd, 1, 0) <= 0 || (fd.Revents & (LibC.POLLIN | LibC.POLLHUP | LibC.POLLERR)) == 0)
            {
                break;
            }
        }

        return MOSQ_ERR_SUCCESS;
    }

    /// <summary>
    /// Closes under AckAfterHandled: with every delivery settled, DISCONNECT and a flush (<c>mosquitto_loop_write</c> only, so
    /// nothing new is read); otherwise the connection is dropped, so the held PUBACKs are never sent.
    /// </summary>
    private unsafe void CloseHoldingAcks(int reason)
    {
        var socket = Socket(_handle);
        if (socket < 0)
        {
            return;
        }

        if (Volatile.Read(ref _unsettledCount) > 0)
        {
            Log.AcknowledgementsAbandoned(_logger, Volatile.Read(ref _unsettledCount));
            _ = DropConnection(socket);
            return;
        }

        _ = DisconnectV5(_handle, reason, IntPtr.Zero);
        for (var i = 0; i < 10 && WantWrite(_handle); i++)
        {
            if (LoopWrite(_handle, 1) != MOSQ_ERR_SUCCESS || (socket = Socket(_handle)) < 0)
            {
                return;
            }

            var fd = new LibC.PollFd { Fd = socket, Events = LibC.POLLOUT };
            _ = LibC.Poll(&fd, 1, 10);
        }
    }

    /// <summary>
    /// Ends the connection without writing anything libmosquitto has queued (the held PUBACKs among it) and without reading
    /// what is still buffered: shutdown(2) on the socket. The broker sees a network failure, keeps the session, and sends the
    /// unacknowledged messages again to the next connection with this client id. libmosquitto still holds the descriptor;
    /// it closes it at the next connect (mosquitto__reconnect) or in mosquitto_destroy, and nothing touches it before.
    /// </summary>
    private static int DropConnection(int socket)
    {
        _ = LibC.Shutdown(socket, LibC.SHUT_RDWR);
        return MOSQ_ERR_CONN_LOST;
    }

    private void AnnounceWait(bool awaiting)
    {
        if (awaiting == _awaitingAcks)
        {
            return;
        }

        _awaitingAcks = awaiting;
        try
        {
            AcknowledgementWaitChanged?.Invoke(this, awaiting);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, nameof(AcknowledgementWaitChanged), ClientId, ex);
        }
    }

    /// <summary>Wakes the network thread for a connect/disconnect request or shutdown.</summary>
    private void WakeNetworkThread()
    {
        _wake.Release();
        SignalAckLoop();
    }

    /// <summary>Under AckAfterHandled: wakes the poll in <see cref="LoopHoldingAcks"/> (everything settled, or a packet queued).</summary>
    private void SignalAckLoop()
    {
        if (_ackSignal is null)
        {
            return;
        }

        try
        {
            _ = LibC.EventFdWrite(_ackSignal, 1);
        }
        catch (ObjectDisposedException)
        {
            // disposed: nothing left to wake
        }
    }

    /// <summary>One party is done with a delivery; when none is left and nothing else is unsettled, the network thread writes.</summary>
    private void Settle(long sequence)
    {
        lock (_ackGate)
        {
            if (!_unsettled.TryGetValue(sequence, out var parties))
            {
                return; // an earlier connection's delivery, or settled already
            }

            if (parties > 1)
            {
                _unsettled[sequence] = parties - 1;
                return;
            }

            _unsettled.Remove(sequence);
            Volatile.Write(ref _unsettledCount, _unsettled.Count);
            if (_unsettled.Count > 0)
            {
                return;
            }
        }

        SignalAckLoop();
    }

    /// <summary>A ByConsumer subscription takes a delivery: it is settled only after that consumer's <see cref="Acknowledge"/> too.</summary>
    private void AddParty(long sequence)
    {
        lock (_ackGate)
        {
            if (_unsettled.TryGetValue(sequence, out var parties))
            {
                _unsettled[sequence] = parties + 1;
            }
        }
    }

    /// <summary>
    /// MQTT 5 DISCONNECT reason 0x04 "disconnect with Will message": on a planned stop the broker still publishes our
    /// retained <c>offline</c>, so the status topic never says <c>online</c> for a kiosk that is gone. (3.1.1 has no
    /// reason codes; there <see cref="DisconnectAsync"/> publishes <c>offline</c> itself first.)
    /// </summary>
    private int ShutdownReason => _statusTopicUtf8 is not null && ProtocolVersion == MQTT_PROTOCOL_V5 ? 0x04 : 0;

    private unsafe bool OpenSocket()
    {
        var properties = IntPtr.Zero;
        try
        {
            var protocol = ProtocolVersion;
            _ = IntOption(_handle, MOSQ_OPT_PROTOCOL_VERSION, protocol);
            if (protocol == MQTT_PROTOCOL_V5)
            {
                var expiry = (uint)Math.Min(uint.MaxValue, _options.SessionExpiry.TotalSeconds);
                Check(PropertyAddInt32(ref properties, MQTT_PROP_SESSION_EXPIRY_INTERVAL, expiry), "session-expiry property");
            }

            if (_statusTopicUtf8 is not null)
            {
                // The will is fixed here, at connect time, so a timestamped status in it carries the connect time, not the
                // time of death. The online status is built just before it and published after CONNACK: the will is never
                // older than the online status it replaces, so a reader that keeps the newest status does not ignore it.
                Volatile.Write(ref _onlineStatus, StatusPayload(online: true));
                var offline = StatusPayload(online: false);
                fixed (byte* p = offline)
                {
                    Check(WillSetV5(_handle, _options.StatusTopic!, offline.Length, p, (int)MqttQos.AtLeastOnce, true, IntPtr.Zero), "mosquitto_will_set_v5");
                }
            }

            var rc = ConnectBindV5(_handle, _options.Host, _options.Port, (int)_options.KeepAlive.TotalSeconds, null, properties);
            if (rc != MOSQ_ERR_SUCCESS)
            {
                var detail = rc == MOSQ_ERR_ERRNO ? Marshal.GetLastPInvokeErrorMessage() : ErrorText(rc);
                var kind = rc is MOSQ_ERR_TLS or MOSQ_ERR_TLS_HANDSHAKE ? MqttErrorKind.Tls : MqttErrorKind.Unreachable;
                FailAttempt(kind, $"cannot connect to {_options.Host}:{_options.Port}: {detail}", rc, null);
                return false;
            }

            return true;
        }
        catch (MqttTransportException ex)
        {
            FailAttempt(MqttErrorKind.Other, ex.Message, ex.LibraryCode, null);
            return false;
        }
        finally
        {
            if (properties != IntPtr.Zero)
            {
                PropertyFreeAll(ref properties);
            }
        }
    }

    /// <summary>The status payload: <see cref="MqttBrokerOptions.StatusPayload"/>, or the text <c>online</c> / <c>offline</c>.</summary>
    private byte[] StatusPayload(bool online) =>
        _options.StatusPayload?.Invoke(online) ?? (online ? "online"u8.ToArray() : "offline"u8.ToArray());

    private void FailAttempt(MqttErrorKind kind, string message, int libraryCode, int? reasonCode)
    {
        var error = RecordError(kind, message, libraryCode, reasonCode);
        TaskCompletionSource<bool>? attempt;
        lock (_gate)
        {
            attempt = _attempt;
            _attempt = null;
        }

        attempt?.TrySetException(new MqttTransportException(error.Message, libraryCode, reasonCode, kind));
    }

    private MqttTransportError RecordError(MqttErrorKind kind, string message, int libraryCode, int? reasonCode)
    {
        var error = new MqttTransportError(kind, message, libraryCode, reasonCode, _time.GetUtcNow());
        _lastError = error;
        Log.TransportError(_logger, kind, message);
        return error;
    }

    private void OnConnect(int rc, int flags)
    {
        if (rc == 0)
        {
            TaskCompletionSource<bool>? attempt;
            TaskCompletionSource connected;
            lock (_gate)
            {
                attempt = _attempt;
                _attempt = null;
                _lost = NewSignal();
                _connection++;
                connected = _connected;
            }

            _lastError = null;
            SetState(MqttConnectionState.Connected, null);
            attempt?.TrySetResult((flags & 1) != 0);
            connected.TrySetResult();
            return;
        }

        var v5 = ProtocolVersion == MQTT_PROTOCOL_V5;
        var text = v5 ? ReasonText(rc) : Marshal.PtrToStringUTF8(ConnackString(rc)) ?? $"code {rc}";
        var kind = (v5, rc) switch
        {
            (true, 0x86 or 0x87 or 0x8C) or (false, 4 or 5) => MqttErrorKind.NotAuthorized,
            (true, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION) or (false, CONNACK_REFUSED_PROTOCOL_VERSION) => MqttErrorKind.Protocol,
            _ => MqttErrorKind.Other,
        };
        var advice = kind == MqttErrorKind.NotAuthorized ? " — check Sync:Broker:Username/Password and the broker's ACL" : string.Empty;
        FailAttempt(kind, $"broker {_options.Host}:{_options.Port} refused the connection: {text} (code 0x{rc:X2}){advice}", MOSQ_ERR_CONN_REFUSED, rc);
    }

    private void OnConnectionClosed(int rc, string? detail)
    {
        List<TaskCompletionSource<int>> orphans;
        TaskCompletionSource lost;
        TaskCompletionSource<bool>? attempt;
        bool wasConnected;
        lock (_gate)
        {
            orphans = [.. _pendingPublishes.Values, .. _pendingSubscribes.Values];
            _pendingPublishes.Clear();
            _pendingSubscribes.Clear();
            lost = _lost;
            attempt = _attempt;
            _attempt = null;
            wasConnected = _state == MqttConnectionState.Connected;
            if (wasConnected)
            {
                _connected = NewSignal();
            }
        }

        var message = rc == MOSQ_ERR_SUCCESS
            ? $"disconnected from {_options.Host}:{_options.Port}"
            : $"connection to {_options.Host}:{_options.Port} lost: {ErrorText(rc)}{(detail is null ? string.Empty : $" ({detail})")}";
        if (wasConnected && rc != MOSQ_ERR_SUCCESS)
        {
            RecordError(MqttErrorKind.Unreachable, message, rc, null);
        }

        var failure = new MqttNotConnectedException(message);
        foreach (var orphan in orphans)
        {
            orphan.TrySetException(failure);
        }

        if (attempt is not null)
        {
            // Lost before CONNACK (a refusal would have failed the attempt already): TLS or network.
            var kind = rc is MOSQ_ERR_TLS or MOSQ_ERR_TLS_HANDSHAKE ? MqttErrorKind.Tls : MqttErrorKind.Unreachable;
            var text = kind == MqttErrorKind.Tls
                ? $"TLS handshake with {_options.Host}:{_options.Port} failed: {ErrorText(rc)} — check Sync:Broker:Tls and that the port speaks TLS"
                : message;
            var error = RecordError(kind, text, rc, null);
            attempt.TrySetException(new MqttTransportException(error.Message, rc, null, kind));
        }
        if (wasConnected)
        {
            SetState(_stopNetwork || _supervisorCts?.IsCancellationRequested == true ? MqttConnectionState.Disconnected : MqttConnectionState.WaitingToReconnect, _lastError);
        }

        if (_holdAcks)
        {
            // The held PUBACKs die with the connection: the next connect discards libmosquitto's outgoing queue
            // (mosquitto__reconnect: packet__cleanup_all), and the broker sends those messages again. Late
            // acknowledgements for them find nothing here and are ignored.
            lock (_ackGate)
            {
                _unsettled.Clear();
                Volatile.Write(ref _unsettledCount, 0);
            }

            _disconnectQueued = false;
            AnnounceWait(false);
        }

        lost.TrySetResult();
    }

    private void OnPublished(int mid, int reasonCode)
    {
        Volatile.Write(ref _lastPubAck, _time.GetTimestamp());
        TaskCompletionSource<int>? ack;
        lock (_gate)
        {
            _pendingPublishes.Remove(mid, out ack);
        }

        ack?.TrySetResult(reasonCode);
    }

    private void OnSubscribed(int mid, int grantedQos)
    {
        TaskCompletionSource<int>? ack;
        lock (_gate)
        {
            _pendingSubscribes.Remove(mid, out ack);
        }

        ack?.TrySetResult(grantedQos);
    }

    private unsafe void OnMessage(MosquittoMessage* message)
    {
        long sequence = 0;
        if (_holdAcks && message->Qos > 0)
        {
            // First thing: its PUBACK is queued already, and from here on nothing is written until it is settled.
            sequence = ++_lastSequence;
            lock (_ackGate)
            {
                _unsettled[sequence] = 1; // the dispatcher's part
                Volatile.Write(ref _unsettledCount, _unsettled.Count);
            }
        }

        var topic = Marshal.PtrToStringUTF8((IntPtr)message->Topic) ?? string.Empty;
        var payload = new ReadOnlySpan<byte>(message->Payload, message->PayloadLength).ToArray();
        var item = new MqttMessage(topic, payload, (MqttQos)Math.Min(message->Qos, 1), message->Retain) { Sequence = sequence };

        // libmosquitto has already queued this message's PUBACK (written at once unless AckAfterHandled), so dropping it
        // could lose it. When handlers fall behind and the buffer is full, this thread waits — reading from the socket
        // pauses, the broker queues.
        var spins = 0;
        while (!_received.Writer.TryWrite(item))
        {
            if (_stopNetwork)
            {
                return;
            }

            if (spins++ == 0)
            {
                Log.ReceiveBackpressure(_logger, _options.ReceiveBufferCapacity);
            }

            Thread.Sleep(1);
        }
    }

    private void SetState(MqttConnectionState state, MqttTransportError? error)
    {
        var previous = _state;
        if (previous == state || previous == MqttConnectionState.Closed)
        {
            return;
        }

        _state = state;
        _stateEvents.Writer.TryWrite(new MqttStateChangedEventArgs(previous, state, error));
    }

    private void SetStateNoEvent(MqttConnectionState state) => _state = state;

    private async Task DispatchMessagesAsync()
    {
        var token = _lifetime.Token;
        await foreach (var message in _received.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            Subscription[] subscriptions;
            lock (_gate)
            {
                subscriptions = [.. _subscriptions];
            }

            foreach (var subscription in subscriptions)
            {
                if (!TopicFilter.Matches(subscription.Filter, message.Topic))
                {
                    continue;
                }

                var byConsumer = message.Sequence > 0 && subscription.Acknowledgement == MqttAcknowledgement.ByConsumer;
                if (byConsumer)
                {
                    AddParty(message.Sequence);
                }

                try
                {
                    await subscription.Handler(message, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return; // closing: unsettled deliveries stay unacknowledged, so the broker keeps them
                }
                catch (Exception ex)
                {
                    Log.HandlerFailed(_logger, subscription.Filter, message.Topic, ex);
                    if (byConsumer)
                    {
                        Settle(message.Sequence);
                    }
                }
            }

            if (message.Sequence > 0)
            {
                Settle(message.Sequence);
            }
        }
    }

    private async Task DispatchStateEventsAsync()
    {
        await foreach (var change in _stateEvents.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            Log.StateChanged(_logger, ClientId, change.Previous, change.Current);
            try
            {
                StateChanged?.Invoke(this, change);
            }
            catch (Exception ex)
            {
                Log.HandlerFailed(_logger, "StateChanged", ClientId, ex);
            }
        }
    }

    /// <summary>One SubscribeAsync registration. The last two fields are guarded by <c>_gate</c>.</summary>
    private sealed class Subscription(string filter, MqttQos qos, Func<MqttMessage, CancellationToken, ValueTask> handler, MqttAcknowledgement acknowledgement)
    {
        public string Filter { get; } = filter;

        public MqttQos Qos { get; } = qos;

        public Func<MqttMessage, CancellationToken, ValueTask> Handler { get; } = handler;

        public MqttAcknowledgement Acknowledgement { get; } = acknowledgement;

        /// <summary>The connection (see <c>_connection</c>) on which SUBSCRIBE was last sent for it; 0 for none.</summary>
        public long SentOnConnection;

        /// <summary>Completes when that SUBSCRIBE was acknowledged, or faults with why it was not.</summary>
        public Task? Sent;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static byte[] Utf8Z(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    // ---- native callbacks: run on the network thread inside mosquitto_loop; never throw ----

    private static MosquittoTransport? From(IntPtr userData) =>
        userData == IntPtr.Zero ? null : GCHandle.FromIntPtr(userData).Target as MosquittoTransport;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnConnectNative(IntPtr mosq, IntPtr userData, int rc, int flags, IntPtr properties)
    {
        var self = From(userData);
        try
        {
            self?.OnConnect(rc, flags);
        }
        catch (Exception ex)
        {
            self?.CallbackFailed(nameof(OnConnectNative), ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnDisconnectNative(IntPtr mosq, IntPtr userData, int rc, IntPtr properties)
    {
        var self = From(userData);
        try
        {
            if (self is not null && rc != 0)
            {
                Log.DisconnectReason(self._logger, rc, ErrorText(rc));
            }
        }
        catch (Exception ex)
        {
            self?.CallbackFailed(nameof(OnDisconnectNative), ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnPublishNative(IntPtr mosq, IntPtr userData, int mid, int reasonCode, IntPtr properties)
    {
        var self = From(userData);
        try
        {
            self?.OnPublished(mid, reasonCode);
        }
        catch (Exception ex)
        {
            self?.CallbackFailed(nameof(OnPublishNative), ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnSubscribeNative(IntPtr mosq, IntPtr userData, int mid, int qosCount, int* grantedQos, IntPtr properties)
    {
        var self = From(userData);
        try
        {
            self?.OnSubscribed(mid, qosCount > 0 && grantedQos != null ? grantedQos[0] : 0x80);
        }
        catch (Exception ex)
        {
            self?.CallbackFailed(nameof(OnSubscribeNative), ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnMessageNative(IntPtr mosq, IntPtr userData, MosquittoMessage* message, IntPtr properties)
    {
        var self = From(userData);
        try
        {
            self?.OnMessage(message);
        }
        catch (Exception ex)
        {
            self?.CallbackFailed(nameof(OnMessageNative), ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnLogNative(IntPtr mosq, IntPtr userData, int level, byte* text)
    {
        var self = From(userData);
        try
        {
            if (self is not null && self._logger.IsEnabled(LogLevel.Trace))
            {
                Log.LibraryLog(self._logger, level, Marshal.PtrToStringUTF8((IntPtr)text));
            }
        }
        catch (Exception ex)
        {
            self?.CallbackFailed(nameof(OnLogNative), ex);
        }
    }

    private void CallbackFailed(string callback, Exception ex)
    {
        try
        {
            Log.CallbackFailed(_logger, callback, ex);
        }
        catch (Exception)
        {
            // Nothing may escape into native code, not even a failing logger.
        }
    }
}

/// <summary>MQTT topic-filter matching (<c>+</c>, <c>#</c>, and <c>$share/group/</c> prefixes).</summary>
public static class TopicFilter
{
    /// <summary>True when <paramref name="topic"/> matches <paramref name="filter"/>.</summary>
    public static bool Matches(string filter, string topic)
    {
        if (filter.StartsWith("$share/", StringComparison.Ordinal))
        {
            var slash = filter.IndexOf('/', "$share/".Length);
            if (slash < 0)
            {
                return false;
            }

            filter = filter[(slash + 1)..];
        }

        // Topics starting with '$' never match a filter starting with a wildcard.
        if (topic.StartsWith('$') && (filter.StartsWith('+') || filter.StartsWith('#')))
        {
            return false;
        }

        var f = filter.Split('/');
        var t = topic.Split('/');
        for (var i = 0; i < f.Length; i++)
        {
            if (f[i] == "#")
            {
                return true;
            }

            if (i >= t.Length || (f[i] != "+" && !string.Equals(f[i], t[i], StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return f.Length == t.Length;
    }
}
