using System.Threading.Channels;

namespace Edge.Camera;

/// <summary>Something that produces frames into a channel until cancelled or until it ends.</summary>
public interface IFrameSource
{
    /// <summary>Frame size every frame of this source has.</summary>
    int Width { get; }

    int Height { get; }

    /// <summary>A snapshot of what the source is doing, for health checks.</summary>
    CameraStatus Status { get; }

    /// <summary>
    /// Produces frames into <paramref name="output"/> until <paramref name="cancellationToken"/> fires or the
    /// source ends; completes <paramref name="output"/> either way. Failures inside are retried, not thrown.
    /// </summary>
    Task RunAsync(ChannelWriter<Frame> output, CancellationToken cancellationToken);
}

/// <summary>What a frame source is doing.</summary>
public enum CameraState
{
    /// <summary>Not started, or ffmpeg started and no frame yet.</summary>
    Starting,

    /// <summary>Frames are flowing.</summary>
    Streaming,

    /// <summary>The last session failed; retrying with backoff (also while the retry starts) until a frame arrives.</summary>
    Backoff,

    /// <summary>The capture gate is closed (no one present): the camera is intentionally off.</summary>
    Idle,

    /// <summary>A finite source (a file or folder without looping) reached its end.</summary>
    Ended,

    Stopped,
}

/// <summary>A snapshot of a frame source; <see cref="LastError"/> says why the last session ended badly.</summary>
public sealed record CameraStatus(
    CameraState State,
    long Frames,
    long Restarts,
    DateTimeOffset? LastFrameAt,
    string? LastError,
    TimeSpan? NextRetryIn);
