using System.Diagnostics;
using System.Globalization;

namespace Edge.Host.Commands;

/// <summary>Decodes any image ffmpeg reads into RGB24: ffprobe for the size, ffmpeg for the pixels.</summary>
internal static class FfmpegImage
{
    public sealed record Decoded(int Width, int Height, byte[] Rgb24);

    /// <summary>
    /// Decodes the first frame of <paramref name="path"/>; throws <see cref="InvalidDataException"/> with ffmpeg's reason.
    /// With <paramref name="filter"/> (e.g. scale and pad), <paramref name="filteredSize"/> is the size it produces.
    /// </summary>
    public static Task<Decoded> DecodeAsync(string path, CancellationToken cancellationToken) => DecodeAsync(path, null, null, cancellationToken);

    public static async Task<Decoded> DecodeAsync(string path, string? filter, (int Width, int Height)? filteredSize, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException(Directory.Exists(path) ? "a folder with no images in it" : "no such file");
        }

        string[] vf = filter is null ? [] : ["-vf", filter];
        var (width, height) = filteredSize ?? await ProbeSizeAsync(path, cancellationToken).ConfigureAwait(false);
        var (pixels, err, code) = await RunAsync(
            "ffmpeg",
            ["-v", "error", "-nostdin", "-i", path, .. vf, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            cancellationToken).ConfigureAwait(false);
        if (code != 0 || pixels.Length != width * height * 3)
        {
            throw new InvalidDataException($"ffmpeg could not decode it ({FirstLine(err, $"{pixels.Length} bytes for {width}x{height}")})");
        }

        return new Decoded(width, height, pixels);
    }

    private static async Task<(int Width, int Height)> ProbeSizeAsync(string path, CancellationToken cancellationToken)
    {
        var (probeOut, probeErr, probeCode) = await RunAsync(
            "ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", "-i", path],
            cancellationToken).ConfigureAwait(false);
        var size = System.Text.Encoding.ASCII.GetString(probeOut).Trim().Split(',');
        if (probeCode != 0 || size.Length < 2
            || !int.TryParse(size[0], NumberStyles.None, CultureInfo.InvariantCulture, out var width)
            || !int.TryParse(size[1], NumberStyles.None, CultureInfo.InvariantCulture, out var height))
        {
            throw new InvalidDataException($"not an image ffmpeg can read ({FirstLine(probeErr, "no video stream")})");
        }

        return (width, height);
    }

    private static string FirstLine(byte[] stderr, string fallback)
    {
        var text = System.Text.Encoding.UTF8.GetString(stderr).Trim();
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return string.IsNullOrEmpty(line) ? fallback : line;
    }

    private static async Task<(byte[] Stdout, byte[] Stderr, int ExitCode)> RunAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        try
        {
            await Task.WhenAll(
                p.StandardOutput.BaseStream.CopyToAsync(stdout, cancellationToken),
                p.StandardError.BaseStream.CopyToAsync(stderr, cancellationToken)).ConfigureAwait(false);
            await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }

        return (stdout.ToArray(), stderr.ToArray(), p.ExitCode);
    }
}
