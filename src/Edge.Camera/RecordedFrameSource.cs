using System.Threading.Channels;

namespace Edge.Camera;

/// <summary>
/// Replays recorded rgb24 frames (in memory or from a raw file) through the same channel contract as the
/// camera: a hardware-free source for tests and for replay benchmarks. Pooled like the camera.
/// </summary>
public sealed class RecordedFrameSource : IFrameSource
{
    private readonly IReadOnlyList<byte[]> _frames;
    private readonly TimeSpan _interval;
    private readonly int _repeat;
    private readonly TimeProvider _time;
    private readonly FramePool _pool;
    private volatile CameraState _state = CameraState.Starting;
    private long _count;
    private long _lastFrameUtcTicks;

    /// <param name="frames">each exactly width × height × 3 bytes</param>
    /// <param name="interval">pause between frames (zero: as fast as the channel takes them)</param>
    /// <param name="repeat">how many times to play the list; 0 = until cancelled</param>
    public RecordedFrameSource(IReadOnlyList<byte[]> frames, int width, int height, TimeSpan interval, int repeat, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfZero(frames.Count);
        var bytes = checked(width * height * 3);
        foreach (var f in frames)
        {
            if (f.Length != bytes)
            {
                throw new ArgumentException($"every frame must be {width}×{height}×3 = {bytes} bytes (got {f.Length})", nameof(frames));
            }
        }

        (_frames, Width, Height, _interval, _repeat, _time) = (frames, width, height, interval, repeat, time);
        _pool = new FramePool(bytes, 8);
    }

    /// <summary>Reads a raw rgb24 file (e.g. <c>ffmpeg ... -f rawvideo -pix_fmt rgb24 out.rgb</c>).</summary>
    public static RecordedFrameSource FromRawFile(string path, int width, int height, TimeSpan interval, int repeat, TimeProvider time)
    {
        var data = File.ReadAllBytes(path);
        var bytes = width * height * 3;
        if (data.Length < bytes || data.Length % bytes != 0)
        {
            throw new InvalidDataException($"'{path}' is {data.Length} bytes, not a whole number of {width}×{height} rgb24 frames");
        }

        var frames = new List<byte[]>(data.Length / bytes);
        for (var offset = 0; offset < data.Length; offset += bytes)
        {
            frames.Add(data.AsSpan(offset, bytes).ToArray());
        }

        return new RecordedFrameSource(frames, width, height, interval, repeat, time);
    }

    public int Width { get; }

    public int Height { get; }

    public CameraStatus Status
    {
        get
        {
            var ticks = Interlocked.Read(ref _lastFrameUtcTicks);
            return new(_state, Interlocked.Read(ref _count), 0, ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero), null, null);
        }
    }

    /// <summary>
    /// The next recorded frame (pooled, stamped with the time now), cycling through the recording: a pull
    /// interface for replay benchmarks that drive the pipeline directly. Dispose the frame when done.
    /// </summary>
    public Frame Next()
    {
        var n = Interlocked.Increment(ref _count) - 1;
        var frame = _pool.Rent();
        _frames[(int)(n % _frames.Count)].CopyTo(frame.Buffer, 0);
        var now = _time.GetUtcNow();
        frame.Stamp(Width, Height, n, now);
        Interlocked.Exchange(ref _lastFrameUtcTicks, now.UtcTicks);
        _state = CameraState.Streaming;
        return frame;
    }

    public async Task RunAsync(ChannelWriter<Frame> output, CancellationToken cancellationToken)
    {
        try
        {
            for (var pass = 0; _repeat == 0 || pass < _repeat; pass++)
            {
                for (var i = 0; i < _frames.Count; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var frame = Next();
                    if (!output.TryWrite(frame))
                    {
                        // a bounded channel that drops takes every write; false means the consumer completed it
                        frame.Dispose();
                        return;
                    }

                    if (_interval > TimeSpan.Zero)
                    {
                        await Task.Delay(_interval, _time, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await Task.Yield();
                    }
                }
            }

            _state = CameraState.Ended;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _state = CameraState.Stopped;
        }
        finally
        {
            output.TryComplete();
        }
    }
}
