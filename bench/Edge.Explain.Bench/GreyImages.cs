using System.Diagnostics;

namespace Edge.Explain.Bench;

/// <summary>Decodes an image through ffmpeg (the project's decoder) into 8-bit grey pixels after a filter chain.</summary>
internal static class GreyImages
{
    /// <summary>
    /// Runs <c>ffmpeg -i PATH -vf FILTER,format=gray -f rawvideo -</c> and returns width × height bytes.
    /// The filter must end at the size given (e.g. <c>crop=128:128:161:63,scale=64:64:flags=bilinear</c>).
    /// </summary>
    public static async Task<byte[]> DecodeAsync(string path, string filter, int width, int height, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-vf", filter.EndsWith("format=gray", StringComparison.Ordinal) ? filter : filter + ",format=gray", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start ffmpeg");
        using var ms = new MemoryStream();
        var stderr = p.StandardError.ReadToEndAsync(cancellationToken);
        await p.StandardOutput.BaseStream.CopyToAsync(ms, cancellationToken).ConfigureAwait(false);
        await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var err = await stderr.ConfigureAwait(false);
        if (p.ExitCode != 0 || ms.Length != width * height)
        {
            throw new InvalidDataException($"ffmpeg gave {ms.Length} bytes for {path} ({filter}), expected {width * height}: {err.Trim()}");
        }

        return ms.ToArray();
    }

    /// <summary>The emotion model's normalisation: (g / 255 − 0.5) × 2 ∈ [−1, 1].</summary>
    public static float[] Normalise(ReadOnlySpan<byte> grey)
    {
        var x = new float[grey.Length];
        for (var i = 0; i < grey.Length; i++)
        {
            x[i] = ((grey[i] / 255f) - 0.5f) * 2f;
        }

        return x;
    }
}
