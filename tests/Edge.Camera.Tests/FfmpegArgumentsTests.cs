namespace Edge.Camera.Tests;

public sealed class FfmpegArgumentsTests
{
    [Fact]
    public void Build_Device_AsksForSizeAndRateAndWritesRawRgb()
    {
        var o = new CameraOptions { Source = "/dev/video0", Width = 640, Height = 480, Fps = 15 };
        var args = FfmpegArguments.Build(o, SourceKinds.Resolve(o));
        var line = string.Join(' ', args);
        Assert.Contains("-f v4l2 -framerate 15 -video_size 640x480 -i /dev/video0", line, StringComparison.Ordinal);
        Assert.EndsWith("-f rawvideo -pix_fmt rgb24 pipe:1", line, StringComparison.Ordinal);
        Assert.DoesNotContain("-stream_loop", args);
    }

    [Fact]
    public void Build_LoopedRealtimeFile_LoopsForeverAtNativeRate()
    {
        var o = new CameraOptions { Source = "/tmp/a.mp4", Loop = true, Realtime = true, Fps = 25 };
        var line = string.Join(' ', FfmpegArguments.Build(o, SourceKinds.Resolve(o)));
        Assert.Contains("-stream_loop -1 -re -i /tmp/a.mp4", line, StringComparison.Ordinal);
        Assert.Contains(",fps=25", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_RtspUrl_UsesTransportAndMicrosecondTimeout()
    {
        var o = new CameraOptions { Source = "rtsp://10.0.0.5/stream", NetworkTimeout = TimeSpan.FromSeconds(3) };
        var line = string.Join(' ', FfmpegArguments.Build(o, SourceKinds.Resolve(o)));
        Assert.Contains("-rtsp_transport tcp -timeout 3000000 -i rtsp://10.0.0.5/stream", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_HttpUrl_UsesReadWriteTimeout()
    {
        var o = new CameraOptions { Source = "http://cam.local/mjpeg", NetworkTimeout = TimeSpan.FromSeconds(2) };
        var line = string.Join(' ', FfmpegArguments.Build(o, SourceKinds.Resolve(o)));
        Assert.Contains("-rw_timeout 2000000 -i http://cam.local/mjpeg", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_Pattern_UsesImage2AtConfiguredRate()
    {
        var o = new CameraOptions { Source = "/data/f%04d.jpg", Loop = false, Realtime = false, Fps = 10 };
        Assert.Equal(CameraSourceKind.Pattern, SourceKinds.Resolve(o));
        var line = string.Join(' ', FfmpegArguments.Build(o, CameraSourceKind.Pattern));
        Assert.Contains("-f image2 -framerate 10 -i /data/f%04d.jpg", line, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteConcatList_FolderWithImages_ListsThemSortedWithFrameDuration()
    {
        var dir = Directory.CreateTempSubdirectory("edge-concat-").FullName;
        File.WriteAllBytes(Path.Combine(dir, "b.jpg"), [1]);
        File.WriteAllBytes(Path.Combine(dir, "a'1.png"), [1]);
        File.WriteAllBytes(Path.Combine(dir, "notes.txt"), [1]);
        var list = Path.Combine(dir, "list.ffconcat");

        var n = FfmpegArguments.WriteConcatList(dir, 4, list);

        Assert.Equal(2, n);
        var lines = File.ReadAllLines(list);
        Assert.Equal("ffconcat version 1.0", lines[0]);
        Assert.Equal($"file '{dir}/a'\\''1.png'", lines[1]);
        Assert.Equal("duration 0.25", lines[2]);
        Assert.EndsWith("b.jpg'", lines[3], StringComparison.Ordinal);
    }

    [Fact]
    public void WriteConcatList_EmptyFolder_ThrowsNamingTheFolder()
    {
        var dir = Directory.CreateTempSubdirectory("edge-concat-empty-").FullName;
        var e = Assert.Throws<InvalidOperationException>(() => FfmpegArguments.WriteConcatList(dir, 4, Path.Combine(dir, "l")));
        Assert.Contains(dir, e.Message, StringComparison.Ordinal);
    }
}
