using Edge.Host.Commands;

namespace Edge.Host.Trust;

/// <summary>
/// Face-crop image files (as a site collects them: one face per image, roughly filling it) read into the
/// emotion model's input: ffmpeg decodes and takes the centred square, scales it bilinearly to 64×64, then
/// grey = 0.2989 R + 0.587 G + 0.114 B on [0, 1] and (grey − 0.5) × 2 — the model's own preprocessing.
/// </summary>
internal static class FaceCropFiles
{
    public const int Side = 64;

    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm"];

    /// <summary>Image files directly in <paramref name="folder"/>, sorted by name (ordinal) so every run sees the same order.</summary>
    public static IReadOnlyList<string> List(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"image folder not found: {folder}");
        }

        return [.. Directory.EnumerateFiles(folder)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .OrderBy(Path.GetFileName, StringComparer.Ordinal)];
    }

    public static async Task<float[]> LoadAsync(string path, CancellationToken cancellationToken)
    {
        // The centre square of the image, resized to the model's input; a corrupt file throws with ffmpeg's reason.
        try
        {
            var image = await FfmpegImage.DecodeAsync(
                path, $"crop=w='min(iw,ih)':h='min(iw,ih)',scale={Side}:{Side}:flags=bilinear", (Side, Side), cancellationToken).ConfigureAwait(false);
            return ToModelInput(image.Rgb24);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
    }

    public static async Task<List<float[]>> LoadAllAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var crops = new float[paths.Count][];
        await Parallel.ForAsync(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancellationToken }, async (i, ct) =>
            crops[i] = await LoadAsync(paths[i], ct).ConfigureAwait(false)).ConfigureAwait(false);
        return [.. crops];
    }

    /// <summary>RGB24 (row-major, 64×64) to the model's NHWC grey input in [−1, 1].</summary>
    public static float[] ToModelInput(ReadOnlySpan<byte> rgb)
    {
        var x = new float[rgb.Length / 3];
        for (var i = 0; i < x.Length; i++)
        {
            var g = ((0.2989f * rgb[3 * i]) + (0.587f * rgb[(3 * i) + 1]) + (0.114f * rgb[(3 * i) + 2])) / 255f;
            x[i] = (g - 0.5f) * 2f;
        }

        return x;
    }
}
