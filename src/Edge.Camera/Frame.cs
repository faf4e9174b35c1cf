namespace Edge.Camera;

/// <summary>
/// One rgb24 frame in a pooled buffer. Whoever holds it last disposes it, which returns the buffer to
/// its <see cref="FramePool"/>; a frame must not be touched after that.
/// </summary>
public sealed class Frame : IDisposable
{
    private readonly FramePool _pool;
    private readonly byte[] _buffer;
    private int _rented;

    internal Frame(FramePool pool, int bytes)
    {
        _pool = pool;
        _buffer = new byte[bytes];
    }

    public int Width { get; private set; }

    public int Height { get; private set; }

    /// <summary>Counts frames of one source from 0 across restarts, so gaps show drops.</summary>
    public long Sequence { get; private set; }

    /// <summary>When the frame's last byte was read, from the injected <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset CaptureTime { get; private set; }

    /// <summary>Row-major rgb24, <see cref="Width"/> × <see cref="Height"/> × 3 bytes.</summary>
    public ReadOnlySpan<byte> Rgb24 => _buffer.AsSpan(0, Width * Height * 3);

    internal byte[] Buffer => _buffer;

    internal void Stamp(int width, int height, long sequence, DateTimeOffset captureTime)
    {
        Width = width;
        Height = height;
        Sequence = sequence;
        CaptureTime = captureTime;
    }

    internal void MarkRented() => Volatile.Write(ref _rented, 1);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _rented, 0) == 1)
        {
            _pool.Return(this);
        }
    }
}
