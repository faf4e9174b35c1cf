using System.IO.Compression;

namespace Edge.Explain.Heatmaps;

/// <summary>A heatmap as it travels: codec version, map size, scale and codec-specific bytes.</summary>
public sealed record EncodedHeatmap(int CodecVersion, int Width, int Height, float Scale, byte[] Data);

/// <summary>
/// The wire codec for relevance maps, agreed with the audit review page.
/// Version 1: <c>data</c> = zlib (RFC 1950, <see cref="ZLibStream"/>) of width × height signed int8 values,
/// row-major; relevance ≈ value × scale with scale = max|R| / 127 (0 for an all-zero map).
/// The encoder may first shrink the map by summing factor × factor blocks (relevance is additive, so the
/// sum of the map is kept); width and height are then the shrunk map's.
/// </summary>
public static class HeatmapCodec
{
    public const int Version1 = 1;

    /// <summary>Encodes a row-major map, optionally summing <paramref name="factor"/>×<paramref name="factor"/> blocks first.</summary>
    public static EncodedHeatmap Encode(ReadOnlySpan<float> relevance, int width, int height, int factor = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        if (relevance.Length != width * height)
        {
            throw new ArgumentException($"map has {relevance.Length} values, expected {width}×{height}", nameof(relevance));
        }

        var map = factor == 1 ? relevance.ToArray() : SumPool(relevance, width, height, factor, out width, out height);
        var max = 0f;
        foreach (var v in map)
        {
            max = Math.Max(max, Math.Abs(v));
        }

        var scale = max > 0 && float.IsFinite(max) ? max / 127f : 0f;
        var q = new byte[map.Length];
        if (scale > 0)
        {
            for (var i = 0; i < map.Length; i++)
            {
                q[i] = unchecked((byte)(sbyte)Math.Clamp(MathF.Round(map[i] / scale), -127f, 127f));
            }
        }

        using var buffer = new MemoryStream();
        using (var z = new ZLibStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            z.Write(q);
        }

        return new EncodedHeatmap(Version1, width, height, scale, buffer.ToArray());
    }

    /// <summary>Decodes to a row-major width × height map of relevance values.</summary>
    public static float[] Decode(EncodedHeatmap encoded)
    {
        if (encoded.CodecVersion != Version1)
        {
            throw new NotSupportedException($"heatmap codec version {encoded.CodecVersion} is not supported (this build knows {Version1})");
        }

        var n = encoded.Width * encoded.Height;
        var q = new byte[n];
        using (var z = new ZLibStream(new MemoryStream(encoded.Data), CompressionMode.Decompress))
        {
            z.ReadExactly(q);
            if (z.ReadByte() != -1)
            {
                throw new InvalidDataException($"heatmap data holds more than {encoded.Width}×{encoded.Height} values");
            }
        }

        var map = new float[n];
        for (var i = 0; i < n; i++)
        {
            map[i] = (sbyte)q[i] * encoded.Scale;
        }

        return map;
    }

    /// <summary>Spreads a shrunk map back over <paramref name="factor"/>² pixels each (sum kept), cropped to width × height.</summary>
    public static float[] Expand(ReadOnlySpan<float> small, int smallWidth, int factor, int width, int height)
    {
        var map = new float[width * height];
        var share = 1f / (factor * factor);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                map[(y * width) + x] = small[(y / factor * smallWidth) + (x / factor)] * share;
            }
        }

        return map;
    }

    /// <summary>Pearson correlation of two equally long maps (1 when both are constant and equal).</summary>
    public static double Correlation(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length || a.Length == 0)
        {
            throw new ArgumentException("maps must have the same, non-zero length");
        }

        double ma = 0, mb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            ma += a[i];
            mb += b[i];
        }

        ma /= a.Length;
        mb /= b.Length;
        double sab = 0, saa = 0, sbb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var da = a[i] - ma;
            var db = b[i] - mb;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }

        if (saa == 0 || sbb == 0)
        {
            return saa == sbb && a.SequenceEqual(b) ? 1 : 0;
        }

        return sab / Math.Sqrt(saa * sbb);
    }

    private static float[] SumPool(ReadOnlySpan<float> map, int width, int height, int factor, out int outWidth, out int outHeight)
    {
        outWidth = (width + factor - 1) / factor;
        outHeight = (height + factor - 1) / factor;
        var small = new float[outWidth * outHeight];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                small[(y / factor * outWidth) + (x / factor)] += map[(y * width) + x];
            }
        }

        return small;
    }
}
