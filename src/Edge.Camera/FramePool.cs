namespace Edge.Camera;

/// <summary>
/// Frames of one size, reused: after warm-up (channel capacity + frames in flight) renting allocates nothing.
/// Thread-safe; frames beyond <see cref="MaxRetained"/> that come back are left to the GC.
/// </summary>
public sealed class FramePool
{
    private readonly Stack<Frame> _free;
    private readonly Lock _gate = new();
    private long _allocated;

    public FramePool(int frameBytes, int maxRetained = 16)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRetained);
        FrameBytes = frameBytes;
        MaxRetained = maxRetained;
        _free = new Stack<Frame>(maxRetained);
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
