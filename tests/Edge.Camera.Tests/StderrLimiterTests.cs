using Edge.Testing;

namespace Edge.Camera.Tests;

public sealed class StderrLimiterTests
{
    [Fact]
    public void TryAcquire_OverLimit_SuppressesAndReportsCountInNextWindow()
    {
        var time = new ManualTimeProvider();
        var limiter = new StderrLimiter(time, 2, TimeSpan.FromSeconds(10));

        Assert.True(limiter.TryAcquire(out _));
        Assert.True(limiter.TryAcquire(out _));
        Assert.False(limiter.TryAcquire(out _));
        Assert.False(limiter.TryAcquire(out _));
        time.Advance(TimeSpan.FromSeconds(11));

        Assert.True(limiter.TryAcquire(out var suppressed));
        Assert.Equal(2, suppressed);
    }
}
