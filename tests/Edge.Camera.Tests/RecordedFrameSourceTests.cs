using System.Threading.Channels;
using Edge.Testing;

namespace Edge.Camera.Tests;

public sealed class RecordedFrameSourceTests
{
    [Fact]
    public async Task RunAsync_TwoPasses_DeliversEveryFrameInOrderThenCompletes()
    {
        var frames = Enumerable.Range(0, 3).Select(i => Enumerable.Repeat((byte)(i + 1), 2 * 2 * 3).ToArray()).ToList();
        var time = new ManualTimeProvider();
        var source = new RecordedFrameSource(frames, 2, 2, TimeSpan.Zero, repeat: 2, time);
        var channel = Channel.CreateUnbounded<Frame>();

        await source.RunAsync(channel.Writer, CancellationToken.None);

        var seen = new List<(long Seq, byte First)>();
        await foreach (var f in channel.Reader.ReadAllAsync())
        {
            seen.Add((f.Sequence, f.Rgb24[0]));
            Assert.Equal(time.GetUtcNow(), f.CaptureTime);
            f.Dispose();
        }

        Assert.Equal([(0L, (byte)1), (1, 2), (2, 3), (3, 1), (4, 2), (5, 3)], seen);
        Assert.Equal(CameraState.Ended, source.Status.State);
    }

    [Fact]
    public void Constructor_FrameOfWrongSize_ThrowsWithExpectedSize()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new RecordedFrameSource([new byte[5]], 2, 2, TimeSpan.Zero, 1, TimeProvider.System));
        Assert.Contains("12 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromRawFile_PartialFrame_ThrowsInvalidData()
    {
        var path = Path.GetTempFileName();
        File.WriteAllBytes(path, new byte[13]);
        Assert.Throws<InvalidDataException>(() => RecordedFrameSource.FromRawFile(path, 2, 2, TimeSpan.Zero, 1, TimeProvider.System));
    }
}
