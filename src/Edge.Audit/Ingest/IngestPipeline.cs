using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Ingest;

/// <summary>An accepted message on its way to the writer, with the moment it arrived (for the ingest lag) and its acknowledgement.</summary>
public readonly record struct PendingWrite(IncomingEvent? Event, IncomingStatus? Status, long ArrivedTimestamp, IngestAck Ack = default);

/// <summary>
/// Tells the message's source that it is safe: stored (its batch committed) or refused for good (rejected and counted).
/// For MQTT it is <c>MosquittoTransport.Acknowledge</c> with the delivery's sequence, which lets the broker forget the
/// message; until then the broker keeps it and sends it again after a crash. <c>default</c> acknowledges nothing.
/// </summary>
public readonly record struct IngestAck(Action<long>? Acknowledge, long Sequence)
{
    public void Complete() => Acknowledge?.Invoke(Sequence);
}

/// <summary>
/// Owns the bounded channel between the transport and the batching writer. Decoding happens on the caller's thread,
/// so a rejected message never reaches the channel (it is acknowledged at once: it is counted, and sending it again
/// would not help). An accepted one is acknowledged by the writer after the commit that stores it. When the channel is
/// full the caller waits: the audit trail must not drop events, and waiting pushes back to the broker, which holds them
/// for the shared subscription.
/// </summary>
public sealed class IngestPipeline
{
    private readonly Channel<PendingWrite> _channel;
    private readonly IngestDecoder _decoder;
    private readonly IngestStats _stats;
    private readonly TimeProvider _time;
    private readonly ILogger<IngestPipeline> _logger;
    private readonly Lock _upstreamGate = new();
    private TaskCompletionSource _upstreamWaits = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _upstreamWaiting;

    public IngestPipeline(IOptions<AuditOptions> options, IngestStats stats, TimeProvider time, ILogger<IngestPipeline> logger)
    {
        var o = options.Value.Ingest;
        _channel = Channel.CreateBounded<PendingWrite>(new BoundedChannelOptions(o.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
        });
        _decoder = new IngestDecoder(o.MaxPayloadBytes);
        _stats = stats;
        _stats.ObserveQueue(() => _channel.Reader.Count, o.QueueCapacity);
        _time = time;
        _logger = logger;
    }

    internal ChannelReader<PendingWrite> Reader => _channel.Reader;

    public IngestStats Stats => _stats;

    /// <summary>Decodes and validates one message; an accepted one is queued for the writer.</summary>
    public ValueTask<DecodeResult> SubmitAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        SubmitAsync(topic, payload, default, cancellationToken);

    /// <summary>
    /// Decodes and validates one message. An accepted one is queued for the writer, which completes <paramref name="ack"/>
    /// after the commit that stores it (or finds it a duplicate); a rejected one is counted and acknowledged now.
    /// </summary>
    public async ValueTask<DecodeResult> SubmitAsync(string topic, ReadOnlyMemory<byte> payload, IngestAck ack, CancellationToken cancellationToken)
    {
        var result = Decode(topic, payload.Span);
        if (result.Accepted)
        {
            await _channel.Writer.WriteAsync(new PendingWrite(result.Event, result.Status, _time.GetTimestamp(), ack), cancellationToken);
        }
        else
        {
            ack.Complete();
        }

        return result;
    }

    /// <summary>
    /// The source says whether it waits for acknowledgements before it delivers more (the MQTT transport with
    /// AckAfterHandled does, after each read). While it waits, the writer commits a partial batch at once instead of
    /// waiting up to FlushInterval for messages that cannot come.
    /// </summary>
    public void SetUpstreamWaiting(bool waiting)
    {
        lock (_upstreamGate)
        {
            _upstreamWaiting = waiting;
            if (waiting)
            {
                _upstreamWaits.TrySetResult();
            }
            else if (_upstreamWaits.Task.IsCompleted)
            {
                _upstreamWaits = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>True while the source waits for acknowledgements (see <see cref="SetUpstreamWaiting"/>).</summary>
    internal bool UpstreamWaiting => _upstreamWaiting;

    /// <summary>Completes when the source starts waiting for acknowledgements (already completed while it waits).</summary>
    internal Task UpstreamWaits
    {
        get
        {
            lock (_upstreamGate)
            {
                return _upstreamWaits.Task;
            }
        }
    }

    private DecodeResult Decode(string topic, ReadOnlySpan<byte> payload)
    {
        _stats.Received();
        var result = _decoder.Decode(topic, payload, _time.GetUtcNow().ToUnixTimeMilliseconds());
        if (result.Accepted)
        {
            _stats.Accepted();
        }
        else
        {
            _stats.Rejected(result.Reason!.Value);
            if (ShouldLogReject())
            {
                Log.IngestRejected(_logger, topic.Length > 200 ? topic[..200] : topic, result.Reason.Value, result.Detail ?? string.Empty);
            }
        }

        return result;
    }

    private const int MaxRejectLogsPerSecond = 20;
    private long _logSecond;
    private int _logsThisSecond;

    /// <summary>At most 20 reject lines a second: a misbehaving kiosk must not flood the log (every reject is still counted).</summary>
    private bool ShouldLogReject()
    {
        var second = _time.GetTimestamp() / _time.TimestampFrequency;
        if (Interlocked.Exchange(ref _logSecond, second) != second)
        {
            Interlocked.Exchange(ref _logsThisSecond, 0);
        }

        return Interlocked.Increment(ref _logsThisSecond) <= MaxRejectLogsPerSecond;
    }

    /// <summary>No more messages (host stopping): the writer drains what is queued and ends.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    /// <summary>Waits until the writer has finished with every accepted message (tests and the benchmark).</summary>
    public async Task WaitUntilDrainedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        while (_stats.Processed < _stats.AcceptedCount)
        {
            if (_time.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"ingest did not drain: {_stats.Processed} of {_stats.AcceptedCount} processed");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), _time, cancellationToken);
        }
    }
}
