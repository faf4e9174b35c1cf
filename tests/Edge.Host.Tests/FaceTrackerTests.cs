using Edge.Explain;
using Edge.Host.Pipeline;

namespace Edge.Host.Tests;

public sealed class FaceTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private static FaceResult At(float x) => new() { Box = new FaceBox(x, 0, x + 100, 100) };

    [Fact]
    public void Assign_OverlappingBoxNextFrame_KeepsTrack()
    {
        var tracker = new FaceTracker(0.3, TimeSpan.FromSeconds(1), 1);
        var tracks = new List<FaceTracker.Track>();
        tracker.Assign([At(0)], T0, tracks);
        var first = tracks[0];

        tracker.Assign([At(10)], T0.AddMilliseconds(66), tracks);

        Assert.Same(first, tracks[0]);
    }

    [Fact]
    public void Assign_TwoFacesSwapOrder_EachKeepsItsTrack()
    {
        var tracker = new FaceTracker(0.3, TimeSpan.FromSeconds(1), 1);
        var tracks = new List<FaceTracker.Track>();
        tracker.Assign([At(0), At(300)], T0, tracks);
        var (left, right) = (tracks[0], tracks[1]);

        tracker.Assign([At(305), At(5)], T0.AddMilliseconds(66), tracks);

        Assert.Same(right, tracks[0]);
        Assert.Same(left, tracks[1]);
    }

    [Fact]
    public void Assign_AfterTimeout_StartsNewTrack()
    {
        var tracker = new FaceTracker(0.3, TimeSpan.FromSeconds(1), 1);
        var tracks = new List<FaceTracker.Track>();
        tracker.Assign([At(0)], T0, tracks);
        var first = tracks[0];

        tracker.Assign([At(0)], T0.AddSeconds(1.5), tracks);

        Assert.NotSame(first, tracks[0]);
        Assert.Equal(1, tracker.Count);
    }

    [Fact]
    public void Iou_HalfOverlap_IsOneThird()
    {
        Assert.Equal(1.0 / 3, FaceTracker.Iou(new FaceBox(0, 0, 2, 1), new FaceBox(1, 0, 3, 1)), 6);
    }
}
