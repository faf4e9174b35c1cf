using System.IO.Compression;

namespace Edge.Explain.Heatmaps;

/// <summary>A heatmap as it travels: codec version, map size, scale and codec-specific bytes.</summary>
public sealed record EncodedHeatmap(int CodecVersion, int Width, int Height, float Scale, byte[] Data);

/// <summary>
/// The wire codec for relevance maps, agreed with the audit review page.
/// Version 1: <c>data</c> = zlib (RFC 1950, <see cref="ZLibStream"/>) of width × height signed int8 values,
/// row-major; relevance ≈ value × scale with scale = max|R| / 127 (0 for an all-zero map). The encoder may use
/// fewer levels (scale = max|R| / L, values in ±L, L ≤ 127) to fit a byte budget; the decoder is the same.
/// The encoder may first shrink the map by summing factor × factor blocks (relevance is additive, so the
/// sum of the map is kept); width and height are then the shrunk map's.
/// </summary>
public static class HeatmapCodec
{
    public const int Version1 = 1;

    /// <summary>Encodes a row-major map, optionally summing <paramref name="factor"/>×<paramref name="factor"/> blocks first.</summary>
    public static EncodedHeatmap Encode(ReadOnlySpan<float> relevance, int width, int height, int factor = 1, int levels = 127)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(levels, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(levels, 127);
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

        var scale = max > 0 && float.IsFinite(max) ? max / levels : 0f;
        var q = new byte[map.Length];
        if (scale > 0)
        {
            for (var i = 0; i < map.Length; i++)
            {
                q[i] = unchecked((byte)(sbyte)Math.Clamp(MathF.Round(map[i] / scale), -levels, levels));
            }
        }

        using var buffer = new MemoryStream();
        using (var z = new ZLibStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            z.Write(q);
        }

        return new EncodedHeatmap(Version1, width, height, scale, buffer.ToArray());
    }

    private static readonly (int Factor, int Levels)[] CompactCandidates =
        [(1, 127), (1, 63), (1, 31), (1, 23), (1, 15), (2, 127), (2, 63), (2, 31), (4, 127)];

    /// <summary>
    /// The first encoding, from full size and 127 levels towards fewer levels and then shrunk maps, that fits
    /// <paramref name="maxBytes"/> and whose decoded map (spread back to full size) still correlates
    /// ≥ <paramref name="minCorrelation"/> with the input; else the best-correlating one that fits; else the smallest.
    /// Every result is plain v1 (value × scale), so decoders need nothing new.
    /// </summary>
    public static EncodedHeatmap EncodeCompact(ReadOnlySpan<float> relevance, int width, int height, int maxBytes = 1024, double minCorrelation = 0.99)
    {
        EncodedHeatmap? best = null;
        var bestR = double.NegativeInfinity;
        EncodedHeatmap? smallest = null;
        foreach (var (factor, levels) in CompactCandidates)
        {
            if (factor > Math.Min(width, height))
            {
                continue;
            }

            var e = Encode(relevance, width, height, factor, levels);
            if (smallest is null || e.Data.Length < smallest.Data.Length)
            {
                smallest = e;
            }

            if (e.Data.Length > maxBytes)
            {
                continue;
            }

            var back = factor == 1 ? Decode(e) : Expand(Decode(e), e.Width, factor, width, height);
            var r = Correlation(relevance, back);
            if (r >= minCorrelation)
            {
                return e;
            }

            if (r > bestR)
            {
                (best, bestR) = (e, r);
            }
        }

        return best ?? smallest!;
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
