namespace Edge.Explain.Heatmaps;

/// <summary>Pictures of a relevance map for people: red positive, blue negative, white (or the face) for zero.</summary>
public static class HeatmapImages
{
    /// <summary>The map alone, each map pixel a <paramref name="zoom"/>² block, red/white/blue scaled to max|R|.</summary>
    public static byte[] HeatmapPng(ReadOnlySpan<float> map, int width, int height, int zoom = 4)
    {
        var max = MaxAbs(map);
        var rgb = new byte[width * zoom * height * zoom * 3];
        for (var y = 0; y < height * zoom; y++)
        {
            for (var x = 0; x < width * zoom; x++)
            {
                var v = max > 0 ? map[(y / zoom * width) + (x / zoom)] / max : 0f;
                var o = ((y * width * zoom) + x) * 3;
                var fade = (byte)(255 * (1 - Math.Abs(v)));
                (rgb[o], rgb[o + 1], rgb[o + 2]) = v >= 0 ? ((byte)255, fade, fade) : (fade, fade, (byte)255);
            }
        }

        return PngWriter.Rgb(rgb, width * zoom, height * zoom);
    }

    /// <summary>
    /// The map over the grey face (values in [0, 1], the same size as the map): each pixel blends toward red
    /// (positive) or blue (negative) by |R| / max|R| (square-root, so weak evidence stays visible).
    /// </summary>
    public static byte[] OverlayPng(ReadOnlySpan<float> map, ReadOnlySpan<float> grey, int width, int height, int zoom = 4)
    {
        if (grey.Length != map.Length)
        {
            throw new ArgumentException("the face and the map must have the same size", nameof(grey));
        }

        var max = MaxAbs(map);
        var rgb = new byte[width * zoom * height * zoom * 3];
        for (var y = 0; y < height * zoom; y++)
        {
            for (var x = 0; x < width * zoom; x++)
            {
                var i = (y / zoom * width) + (x / zoom);
                var v = max > 0 ? map[i] / max : 0f;
                var a = MathF.Sqrt(Math.Abs(v)) * 0.85f;
                var g = Math.Clamp(grey[i], 0f, 1f) * 255f;
                var o = ((y * width * zoom) + x) * 3;
                var (r, gg, b) = v >= 0 ? (255f, 0f, 0f) : (0f, 0f, 255f);
                rgb[o] = (byte)((g * (1 - a)) + (r * a));
                rgb[o + 1] = (byte)((g * (1 - a)) + (gg * a));
                rgb[o + 2] = (byte)((g * (1 - a)) + (b * a));
            }
        }

        return PngWriter.Rgb(rgb, width * zoom, height * zoom);
    }

    private static float MaxAbs(ReadOnlySpan<float> map)
    {
        var max = 0f;
        foreach (var v in map)
        {
            if (float.IsFinite(v))
            {
                max = Math.Max(max, Math.Abs(v));
            }
        }

        return max;
    }
}
