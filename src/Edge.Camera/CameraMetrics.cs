using System.Diagnostics.Metrics;

namespace Edge.Camera;

/// <summary>The camera stage's instruments (meter <c>Edge.Camera</c>).</summary>
public sealed class CameraMetrics
{
    public const string MeterName = "Edge.Camera";

    private readonly Counter<long> _frames;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _restarts;

    public CameraMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _frames = meter.CreateCounter<long>("edge.camera.frames", "{frame}", "Frames read from the source");
        _dropped = meter.CreateCounter<long>("edge.camera.frames.dropped", "{frame}", "Frames dropped because the pipeline was behind (oldest first)");
        _restarts = meter.CreateCounter<long>("edge.camera.restarts", "{restart}", "ffmpeg restarts after an exit, a stall or a start failure");
    }

    public void FrameRead() => _frames.Add(1);

    public void FrameDropped() => _dropped.Add(1);

    public void Restarted() => _restarts.Add(1);
}
