namespace Edge.Camera;

internal static class SourceKinds
{
    public static CameraSourceKind Resolve(CameraOptions options)
    {
        if (options.Kind != CameraSourceKind.Auto)
        {
            return options.Kind;
        }

        var source = options.Source;
        var scheme = source.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            return CameraSourceKind.Url;
        }

        if (source.StartsWith("/dev/video", StringComparison.Ordinal) || source.StartsWith("/dev/v4l/", StringComparison.Ordinal))
        {
            return CameraSourceKind.Device;
        }

        if (Directory.Exists(source))
        {
            return CameraSourceKind.Folder;
        }

        return source.Contains('%', StringComparison.Ordinal) ? CameraSourceKind.Pattern : CameraSourceKind.File;
    }

    /// <summary>Sources that end on their own (ffmpeg exit code 0 after frames means "end of stream", not a failure).</summary>
    public static bool IsFinite(CameraSourceKind kind, bool loop) =>
        !loop && kind is CameraSourceKind.File or CameraSourceKind.Folder or CameraSourceKind.Pattern;
}
