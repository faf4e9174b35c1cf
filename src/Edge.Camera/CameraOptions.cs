namespace Edge.Camera;

/// <summary>What the camera stage captures and how it recovers. Bound from the <c>Camera</c> section.</summary>
public sealed class CameraOptions
{
    public const string SectionName = "Camera";

    /// <summary>
    /// A V4L2 device (<c>/dev/video0</c>), a video file, a folder of images, an image2 pattern
    /// (<c>frames/%04d.jpg</c>) or an <c>rtsp://</c>, <c>http://</c> or <c>https://</c> URL. Required.
    /// </summary>
    public string Source { get; set; } = "";

    /// <summary>How to read <see cref="Source"/>; <see cref="CameraSourceKind.Auto"/> decides from its form.</summary>
    public CameraSourceKind Kind { get; set; } = CameraSourceKind.Auto;

    /// <summary>Frame width in pixels after scaling (the source is letterboxed into it). 16–4096, default 640.</summary>
    public int Width { get; set; } = 640;

    /// <summary>Frame height in pixels after scaling. 16–4096, default 480.</summary>
    public int Height { get; set; } = 480;

    /// <summary>Frames per second asked of the device, or the rate files and folders are resampled to. 1–120, default 15.</summary>
    public double Fps { get; set; } = 15;

    /// <summary>Files and folders: start again at the end. Default true; false makes the source end (the service then stops).</summary>
    public bool Loop { get; set; } = true;

    /// <summary>Files and folders: deliver frames at their own rate (ffmpeg <c>-re</c>) rather than as fast as they decode. Default true.</summary>
    public bool Realtime { get; set; } = true;

    /// <summary>No frame within this time (also after a start) counts as a stall: ffmpeg is killed and restarted. 0.5 s–5 min, default 10 s.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First restart delay; doubles per failure (with jitter). 10 ms–1 min, default 1 s.</summary>
    public TimeSpan RestartDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Upper bound of the restart delay. ≥ <see cref="RestartDelay"/>, at most 10 min, default 30 s.</summary>
    public TimeSpan RestartMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Randomise restart delays (decorrelated jitter) so many kiosks do not retry in step. Default true.</summary>
    public bool RestartJitter { get; set; } = true;

    /// <summary>A session that delivered frames for this long resets the backoff. Default 30 s.</summary>
    public TimeSpan StableAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Network sources: socket/read timeout handed to ffmpeg. 1 s–5 min, default 10 s.</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>RTSP transport: <c>tcp</c> (default) or <c>udp</c>.</summary>
    public string RtspTransport { get; set; } = "tcp";

    /// <summary>Frames buffered between the camera and the pipeline; older ones are dropped (counted). 1–64, default 2.</summary>
    public int ChannelCapacity { get; set; } = 2;

    /// <summary>The ffmpeg executable. Default <c>ffmpeg</c> (found on PATH).</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>ffmpeg <c>-loglevel</c>: quiet, panic, fatal, error, warning (default), info.</summary>
    public string FfmpegLogLevel { get; set; } = "warning";

    /// <summary>At most this many ffmpeg stderr lines are logged per <see cref="StderrLogWindow"/>; the rest are counted. Default 20.</summary>
    public int StderrLogLines { get; set; } = 20;

    /// <summary>The window of <see cref="StderrLogLines"/>. Default 1 min.</summary>
    public TimeSpan StderrLogWindow { get; set; } = TimeSpan.FromMinutes(1);

    internal int FrameBytes => checked(Width * Height * 3);
}

/// <summary>How a <see cref="CameraOptions.Source"/> is opened.</summary>
public enum CameraSourceKind
{
    /// <summary>URL scheme → <see cref="Url"/>; <c>/dev/video*</c> → <see cref="Device"/>; a directory → <see cref="Folder"/>; a <c>%d</c> pattern → <see cref="Pattern"/>; else <see cref="File"/>.</summary>
    Auto,
    Device,
    File,
    Folder,
    Pattern,
    Url,
}
