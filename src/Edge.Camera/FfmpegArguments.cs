using System.Globalization;
using System.Text;

namespace Edge.Camera;

/// <summary>
/// The ffmpeg command line for a source: decode, letterbox into Width×Height, write raw rgb24 to stdout.
/// Arguments are a list (no shell, no quoting); see <see cref="Build"/>.
/// </summary>
internal static class FfmpegArguments
{
    private static readonly string[] s_imageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp"];

    /// <param name="options">validated options</param>
    /// <param name="kind">the resolved source kind</param>
    /// <param name="concatList">for <see cref="CameraSourceKind.Folder"/>: the ffconcat file written by <see cref="WriteConcatList"/></param>
    public static List<string> Build(CameraOptions options, CameraSourceKind kind, string? concatList = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var args = new List<string> { "-nostdin", "-hide_banner", "-nostats", "-loglevel", options.FfmpegLogLevel };
        var fps = options.Fps.ToString("0.###", inv);
        switch (kind)
        {
            case CameraSourceKind.Device:
                args.AddRange(["-f", "v4l2", "-framerate", fps, "-video_size", $"{options.Width}x{options.Height}", "-i", options.Source]);
                break;
            case CameraSourceKind.Url:
                var micros = ((long)options.NetworkTimeout.TotalMicroseconds).ToString(inv);
                if (options.Source.StartsWith("rtsp", StringComparison.OrdinalIgnoreCase))
                {
                    args.AddRange(["-rtsp_transport", options.RtspTransport, "-timeout", micros]);
                }
                else
                {
                    args.AddRange(["-rw_timeout", micros]);
                }

                args.AddRange(["-i", options.Source]);
                break;
            case CameraSourceKind.File:
            case CameraSourceKind.Pattern:
            case CameraSourceKind.Folder:
                if (options.Loop)
                {
                    args.AddRange(["-stream_loop", "-1"]);
                }

                if (options.Realtime)
                {
                    args.Add("-re");
                }

                if (kind == CameraSourceKind.Pattern)
                {
                    args.AddRange(["-f", "image2", "-framerate", fps, "-i", options.Source]);
                }
                else if (kind == CameraSourceKind.Folder)
                {
                    args.AddRange(["-f", "concat", "-safe", "0", "-i", concatList ?? throw new ArgumentNullException(nameof(concatList))]);
                }
                else
                {
                    args.AddRange(["-i", options.Source]);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "resolve Auto first");
        }

        var (w, h) = (options.Width, options.Height);
        var filter = $"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2";
        if (kind != CameraSourceKind.Device)
        {
            filter += $",fps={fps}";
        }

        args.AddRange(["-an", "-sn", "-dn", "-vf", filter, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
        return args;
    }

    /// <summary>Writes an ffconcat list of the folder's images (sorted by name), each shown for one frame interval.</summary>
    /// <returns>the number of images listed</returns>
    public static int WriteConcatList(string folder, double fps, string listPath)
    {
        var images = Directory.EnumerateFiles(folder)
            .Where(f => s_imageExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (images.Count == 0)
        {
            throw new InvalidOperationException($"camera folder '{folder}' holds no images ({string.Join(", ", s_imageExtensions)})");
        }

        var duration = (1.0 / fps).ToString("0.######", CultureInfo.InvariantCulture);
        var text = new StringBuilder("ffconcat version 1.0\n");
        foreach (var image in images)
        {
            text.Append("file '").Append(Path.GetFullPath(image).Replace("'", @"'\''", StringComparison.Ordinal)).Append("'\n");
            text.Append("duration ").Append(duration).Append('\n');
        }

        File.WriteAllText(listPath, text.ToString());
        return images.Count;
    }
}
