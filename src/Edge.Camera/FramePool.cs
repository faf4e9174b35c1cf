namespace Edge.Camera;

/// <summary>
/// Frames of one size, reused. Frames allocated up front (<c>preallocate</c>: channel capacity + frames in flight)
/// make renting allocate nothing from the first frame on, however slow the consumer; without them the pool grows
/// to that bound on first use. Thread-safe; frames beyond <see cref="MaxRetained"/> that come back are left to the GC.
/// </summary>
public sealed class FramePool
{
    private readonly Stack<Frame> _free;
    private readonly Lock _gate = new();
    private long _allocated;

    public FramePool(int frameBytes, int maxRetained = 16, int preallocate = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRetained);
        ArgumentOutOfRangeException.ThrowIfNegative(preallocate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(preallocate, maxRetained);
        FrameBytes = frameBytes;
        MaxRetained = maxRetained;
        _free = new Stack<Frame>(maxRetained);
        for (var i = 0; i < preallocate; i++)
        {
            _free.Push(new Frame(this, frameBytes));
        }

        _allocated = preallocate;
    }

    public int FrameBytes { get; }

    public int MaxRetained { get; }

    /// <summary>How many frame buffers this pool ever allocated (flat in steady state).</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    public Frame Rent()
    {
        Frame? frame;
        lock (_gate)
        {
            _free.TryPop(out frame);
        }

        if (frame is null)
        {
            Interlocked.Increment(ref _allocated);
            frame = new Frame(this, FrameBytes);
        }

        frame.MarkRented();
        return frame;
    }

    internal void Return(Frame frame)
    {
        lock (_gate)
        {
            if (_free.Count < MaxRetained)
            {
                _free.Push(frame);
            }
        }
    }
}
