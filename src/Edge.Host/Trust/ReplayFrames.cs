using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Edge.Host.Commands;

namespace Edge.Host.Trust;

/// <summary>Frames for the drift commands: every image of a folder (sorted), or a video file sampled at a fixed rate by ffmpeg.</summary>
internal static class ReplayFrames
{
    public sealed record RgbFrame(int Index, string Label, int Width, int Height, byte[] Rgb24);

    public static async IAsyncEnumerable<RgbFrame> ReadAsync(string input, double fps, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Directory.Exists(input))
        {
            var i = 0;
            foreach (var file in FaceCropFiles.List(input))
            {
                var d = await FfmpegImage.DecodeAsync(file, cancellationToken).ConfigureAwait(false);
                yield return new RgbFrame(i++, Path.GetFileName(file), d.Width, d.Height, d.Rgb24);
            }

            yield break;
        }

        if (!File.Exists(input))
        {
            throw new FileNotFoundException($"no such video or folder: {input}", input);
        }

        var first = await FfmpegImage.DecodeAsync(input, cancellationToken).ConfigureAwait(false);
        var (w, h) = (first.Width, first.Height);
        var psi = new ProcessStartInfo("ffmpeg",
        [
            "-v", "error", "-nostdin", "-i", input,
            "-vf", string.Create(CultureInfo.InvariantCulture, $"fps={fps}"),
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start ffmpeg");
        var err = p.StandardError.ReadToEndAsync(cancellationToken);
        var stream = p.StandardOutput.BaseStream;
        var index = 0;
        try
        {
            while (true)
            {
                var buffer = new byte[w * h * 3];
                var read = 0;
                while (read < buffer.Length)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    read += n;
                }

                if (read < buffer.Length)
                {
                    break;
                }

                yield return new RgbFrame(index, string.Create(CultureInfo.InvariantCulture, $"t={index / fps:F1}s"), w, h, buffer);
                index++;
            }
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }
        }

        await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (p.ExitCode != 0 && index == 0)
        {
            throw new InvalidDataException($"{input}: ffmpeg could not decode it ({(await err.ConfigureAwait(false)).Trim()})");
        }
    }
}
