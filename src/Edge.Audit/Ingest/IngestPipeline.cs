using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Ingest;

/// <summary>An accepted message on its way to the writer, with the moment it arrived (for the ingest lag).</summary>
public readonly record struct PendingWrite(IncomingEvent? Event, IncomingStatus? Status, long ArrivedTimestamp);

/// <summary>
/// Owns the bounded channel between the transport and the batching writer. Decoding happens on the caller's thread,
/// so a rejected message never reaches the channel. When the channel is full the caller waits: the audit trail must
/// not drop events, and waiting pushes back to the broker, which holds them for the shared subscription.
/// </summary>
public sealed class IngestPipeline
{
    private readonly Channel<PendingWrite> _channel;
    private readonly IngestDecoder _decoder;
    private readonly IngestStats _stats;
    private readonly TimeProvider _time;
    private readonly ILogger<IngestPipeline> _logger;

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
    public async ValueTask<DecodeResult> SubmitAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var result = Decode(topic, payload.Span);
        if (result.Accepted)
        {
            await _channel.Writer.WriteAsync(new PendingWrite(result.Event, result.Status, _time.GetTimestamp()), cancellationToken);
        }

        return result;
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
