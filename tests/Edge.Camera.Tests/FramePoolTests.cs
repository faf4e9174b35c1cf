using System.Diagnostics.Metrics;

namespace Edge.Camera.Tests;

public sealed class FramePoolTests
{
    [Fact]
    public void Rent_AfterDispose_ReusesTheSameBuffer()
    {
        var pool = new FramePool(12, 4);
        var a = pool.Rent();
        a.Dispose();
        var b = pool.Rent();

        Assert.Same(a, b);
        Assert.Equal(1, pool.Allocated);
    }

    [Fact]
    public void Rent_UpToPreallocated_AllocatesNothingMore()
    {
        var pool = new FramePool(12, 4, preallocate: 3);
        var rented = Enumerable.Range(0, 3).Select(_ => pool.Rent()).ToList();

        Assert.Equal(3, pool.Allocated);
        Assert.Equal(3, rented.Distinct().Count());
        pool.Rent().Dispose();
        Assert.Equal(4, pool.Allocated);
    }

    [Fact]
    public void Constructor_PreallocateAboveRetained_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new FramePool(12, 4, preallocate: 5));

    [Fact]
    public void Dispose_Twice_ReturnsOnce()
    {
        var pool = new FramePool(12, 4);
        var a = pool.Rent();
        a.Dispose();
        a.Dispose();

        var b = pool.Rent();
        var c = pool.Rent();
        Assert.NotSame(b, c);
    }

    [Fact]
    public void CreateBounded_WhenFull_DropsOldestReturnsItToPoolAndCountsIt()
    {
        var factory = TestSupport.NewMeterFactory();
        long dropped = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == CameraMetrics.MeterName && i.Name == "edge.camera.frames.dropped")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref dropped, v));
        listener.Start();
        var metrics = new CameraMetrics(factory);
        var channel = FrameChannel.CreateBounded(2, metrics);
        var pool = new FramePool(3, 8);
        var frames = Enumerable.Range(0, 5).Select(i =>
        {
            var f = pool.Rent();
            f.Stamp(1, 1, i, DateTimeOffset.UnixEpoch);
            return f;
        }).ToList();

        foreach (var f in frames)
        {
            Assert.True(channel.Writer.TryWrite(f));
        }

        Assert.Equal(3, Interlocked.Read(ref dropped));
        Assert.True(channel.Reader.TryRead(out var first));
        Assert.Equal(3, first.Sequence);
        first.Dispose();
        // the three dropped frames and the one just read are back in the pool: renting four allocates nothing
        var before = pool.Allocated;
        var again = Enumerable.Range(0, 4).Select(_ => pool.Rent()).ToList();
        Assert.Equal(before, pool.Allocated);
        again.ForEach(f => f.Dispose());
        FrameChannel.Drain(channel.Reader);
    }
}
