using System.Threading.Channels;

namespace Edge.Camera;

/// <summary>The bounded hand-over from a frame source to its consumer.</summary>
public static class FrameChannel
{
    /// <summary>
    /// Capacity-bounded, drops the oldest frame when full: the dropped frame goes back to its pool and is
    /// counted in <c>edge.camera.frames.dropped</c>. Never grows.
    /// </summary>
    public static Channel<Frame> CreateBounded(int capacity, CameraMetrics metrics) =>
        Channel.CreateBounded<Frame>(
            new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = true,
                AllowSynchronousContinuations = false,
            },
            dropped =>
            {
                metrics.FrameDropped();
                dropped.Dispose();
            });

    /// <summary>Drains what is left after the writer completed, returning every frame to its pool.</summary>
    public static void Drain(ChannelReader<Frame> reader)
    {
        while (reader.TryRead(out var frame))
        {
            frame.Dispose();
        }
    }
}
