using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Camera.Tests;

internal static class TestSupport
{
    public static IMeterFactory NewMeterFactory() =>
        new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    public static FfmpegFrameSource NewSource(
        CameraOptions options, ListLogger<FfmpegFrameSource>? logger = null, ICaptureGate? gate = null, ICaptureIndicator? indicator = null) =>
        new(
            Options.Create(options),
            logger ?? new ListLogger<FfmpegFrameSource>(),
            TimeProvider.System,
            new CameraMetrics(NewMeterFactory()),
            gate ?? AlwaysOpenGate.Instance,
            indicator ?? NoCaptureIndicator.Instance);

    /// <summary>Reads frames until <paramref name="until"/> says stop or the timeout passes; disposes every frame.</summary>
    public static async Task<int> ConsumeAsync(ChannelReader<Frame> reader, Func<Frame, bool> until, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var n = 0;
        try
        {
            await foreach (var frame in reader.ReadAllAsync(cts.Token))
            {
                n++;
                var stop = until(frame);
                frame.Dispose();
                if (stop)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return n;
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"waited {timeout.TotalSeconds} s for: {what}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Runs ffmpeg to completion and returns stdout bytes.</summary>
    public static byte[] RunFfmpeg(params string[] args)
    {
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var p = Process.Start(start)!;
        using var ms = new MemoryStream();
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg {string.Join(' ', args)} failed: {err.Result}");
        }

        return ms.ToArray();
    }
}

/// <summary>A test video made once by ffmpeg's own test source: 320×240, 25 fps, 2 s = 50 frames.</summary>
internal static class TestVideo
{
    private static readonly Lazy<string> s_path = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), $"edge-camera-tests-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "testsrc.mp4");
        TestSupport.RunFfmpeg("-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
            "-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "25", path);
        return path;
    });

    public static string Path320x240 => s_path.Value;

    public const int FrameCount = 50;
}

internal sealed class ListLogger<T> : ILogger<T>
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
}

/// <summary>A presence gate the test opens and closes by hand (the GPIO sensor's stand-in).</summary>
internal sealed class ManualGate : ICaptureGate
{
    private volatile TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsOpen => _open.Task.IsCompleted;

    public void Open() => _open.TrySetResult();

    public void Close()
    {
        if (IsOpen)
        {
            _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public Task WaitOpenAsync(CancellationToken cancellationToken) => _open.Task.WaitAsync(cancellationToken);
}

internal sealed class RecordingIndicator : ICaptureIndicator
{
    public ConcurrentQueue<bool> Changes { get; } = new();

    public bool Capturing { get; private set; }

    public void SetCapturing(bool capturing)
    {
        Capturing = capturing;
        Changes.Enqueue(capturing);
    }
}
