namespace Edge.Host.Pipeline;

/// <summary>What the pipeline and the publisher last did, for /healthz and the systemd watchdog. Thread-safe.</summary>
public sealed class PipelineStatus(TimeProvider time)
{
    private long _lastFrameTimestamp;
    private long _frames;
    private long _errors;
    private volatile string? _lastError;
    private long _lastPublishTimestamp;
    private volatile string? _lastPublishError;
    private volatile bool _completed;

    public long Frames => Interlocked.Read(ref _frames);

    public long Errors => Interlocked.Read(ref _errors);

    public string? LastError => _lastError;

    public string? LastPublishError => _lastPublishError;

    /// <summary>The frame stream ended and every event was handed on.</summary>
    public bool Completed => _completed;

    /// <summary>Time since the last processed frame; null before the first.</summary>
    public TimeSpan? SinceLastFrame
    {
        get
        {
            var t = Interlocked.Read(ref _lastFrameTimestamp);
            return t == 0 ? null : time.GetElapsedTime(t);
        }
    }

    public TimeSpan? SinceLastPublish
    {
        get
        {
            var t = Interlocked.Read(ref _lastPublishTimestamp);
            return t == 0 ? null : time.GetElapsedTime(t);
        }
    }

    public void FrameDone()
    {
        Interlocked.Exchange(ref _lastFrameTimestamp, time.GetTimestamp());
        Interlocked.Increment(ref _frames);
    }

    public void FrameFailed(string error)
    {
        Interlocked.Increment(ref _errors);
        _lastError = error;
    }

    public void Published()
    {
        Interlocked.Exchange(ref _lastPublishTimestamp, time.GetTimestamp());
        _lastPublishError = null;
    }

    public void PublishFailed(string error) => _lastPublishError = error;

    public void Complete() => _completed = true;
}
