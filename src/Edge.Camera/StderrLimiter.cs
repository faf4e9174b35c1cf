namespace Edge.Camera;

/// <summary>At most N log lines per window; counts the rest so the next logged line can say how many were skipped.</summary>
internal sealed class StderrLimiter(TimeProvider time, int maxLines, TimeSpan window)
{
    private readonly Lock _gate = new();
    private DateTimeOffset _windowStart = time.GetUtcNow();
    private int _inWindow;
    private long _suppressed;

    public bool TryAcquire(out long suppressedBefore)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (now - _windowStart >= window)
            {
                _windowStart = now;
                _inWindow = 0;
            }

            if (_inWindow < maxLines)
            {
                _inWindow++;
                suppressedBefore = _suppressed;
                _suppressed = 0;
                return true;
            }

            _suppressed++;
            suppressedBefore = 0;
            return false;
        }
    }
}
