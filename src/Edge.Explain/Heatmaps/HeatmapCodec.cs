using System.Buffers;
using System.IO.Compression;

namespace Edge.Explain.Heatmaps;

/// <summary>What <see cref="HeatmapCodec.EncodeCompactTo"/> wrote: codec version, the (v1: possibly shrunk) map size, the scale and the data length.</summary>
public readonly record struct HeatmapFrame(int CodecVersion, int Width, int Height, float Scale, int Length);

/// <summary>A heatmap as it travels: codec version, map size, scale and codec-specific bytes.</summary>
public sealed record EncodedHeatmap(int CodecVersion, int Width, int Height, float Scale, byte[] Data);

/// <summary>
/// The wire codec for relevance maps, agreed with the audit review page (byte layouts in the Explain README).
/// Version 1: <c>data</c> = zlib (RFC 1950, <see cref="ZLibStream"/>) of width × height signed int8 values,
/// row-major; relevance ≈ value × scale with scale = max|R| / 127 (0 for an all-zero map). The encoder may use
/// fewer levels (scale = max|R| / L, values in ±L, L ≤ 127) to fit a byte budget; the decoder is the same.
/// The encoder may first shrink the map by summing factor × factor blocks (relevance is additive, so the
/// sum of the map is kept); width and height are then the shrunk map's.
/// Version 2 (<see cref="EncodeCompactTo"/>, what the kiosk sends): integer values, relevance = value × scale, coded
/// coarse-to-fine with per-phase gains and an adaptive range coder (<see cref="HeatmapCodecV2"/>); always full size.
/// </summary>
public static class HeatmapCodec
{
    public const int Version1 = 1;
    public const int Version2 = 2;

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

    // (shrink factor, levels, dead zone): values with |v| / scale below the dead zone become 0 (0.5 = plain rounding);
    // zeroing the faint texture costs little correlation and much entropy. The decoder is the same for all.
    private static readonly (int Factor, int Levels, float DeadZone)[] CompactCandidates =
        [(1, 127, 0.5f), (1, 63, 0.5f), (1, 31, 0.5f), (1, 31, 1f), (1, 23, 0.5f), (1, 23, 1f), (1, 15, 0.5f), (1, 15, 1f), (1, 15, 1.5f), (1, 11, 1f),
         (2, 127, 0.5f), (2, 63, 0.5f), (2, 31, 0.5f), (4, 127, 0.5f)];

    [ThreadStatic]
    private static MemoryStream? t_deflated;

    /// <summary>
    /// The fewest bytes whose decoded map still correlates ≥ <paramref name="minCorrelation"/> with the input, as codec
    /// <paramref name="codecVersion"/> (2, the default; 1 for an audit store that predates v2: the v1 search over levels,
    /// dead zone and shrinking). See <see cref="EncodeCompactTo"/> and <see cref="EncodeCompactV1To"/>.
    /// </summary>
    public static EncodedHeatmap EncodeCompact(ReadOnlySpan<float> relevance, int width, int height, int maxBytes = 1024, double minCorrelation = 0.99, int codecVersion = Version2)
    {
        if (codecVersion is not (Version1 or Version2))
        {
            throw new ArgumentOutOfRangeException(nameof(codecVersion), codecVersion, "codec version must be 1 or 2");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(MaxEncodedLength(width * height));
        try
        {
            var frame = codecVersion == Version2
                ? EncodeCompactTo(relevance, width, height, buffer, maxBytes, minCorrelation)
                : EncodeCompactV1To(relevance, width, height, buffer, maxBytes, minCorrelation);
            return new EncodedHeatmap(frame.CodecVersion, frame.Width, frame.Height, frame.Scale, buffer.AsSpan(0, frame.Length).ToArray());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A destination of this many bytes always holds the compact (v1 or v2) data of a map of <paramref name="values"/> values.</summary>
    public static int MaxEncodedLength(int values) => values + (values / 1000) + 64;

    /// <summary>
    /// Codec v2 into <paramref name="destination"/> (at least <see cref="MaxEncodedLength"/> bytes): the largest quantiser
    /// step whose decoded map correlates ≥ <paramref name="minCorrelation"/> with the input (the encoder decodes its own
    /// output while it searches, about five quantising passes), coded once; if that exceeds <paramref name="maxBytes"/>,
    /// the finest step that fits. Deterministic; no managed allocation once warm. Width and height stay the input's.
    /// </summary>
    public static HeatmapFrame EncodeCompactTo(ReadOnlySpan<float> relevance, int width, int height, Span<byte> destination, int maxBytes = 1024, double minCorrelation = 0.99)
    {
        CheckCompactArguments(relevance, width, height, destination);
        return HeatmapCodecV2.EncodeTo(relevance, width, height, destination, maxBytes, minCorrelation);
    }

    private static void CheckCompactArguments(ReadOnlySpan<float> relevance, int width, int height, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (relevance.Length != width * height)
        {
            throw new ArgumentException($"map has {relevance.Length} values, expected {width}×{height}", nameof(relevance));
        }

        if (destination.Length < MaxEncodedLength(relevance.Length))
        {
            throw new ArgumentException($"destination holds {destination.Length} bytes, {MaxEncodedLength(relevance.Length)} needed", nameof(destination));
        }
    }

    /// <summary>
    /// The v1 compact search (kept for audit stores that predate v2, and for comparison) into <paramref name="destination"/>
    /// (at least <see cref="MaxEncodedLength"/> bytes) with no per-frame managed allocation once warm: one pass over
    /// the map gathers, for every candidate (levels, dead zone, shrink factor), the order-0 entropy of its quantised values
    /// (an estimate of the deflated size) and the exact correlation of its decoded map with the input; the smallest
    /// candidate that meets both is deflated (else the most faithful that fits); its real size calibrates the other
    /// estimates, and another candidate is deflated only when the calibrated choice changes.
    /// </summary>
    public static HeatmapFrame EncodeCompactV1To(ReadOnlySpan<float> relevance, int width, int height, Span<byte> destination, int maxBytes = 1024, double minCorrelation = 0.99)
    {
        CheckCompactArguments(relevance, width, height, destination);

        Span<double> correlation = stackalloc double[CompactCandidates.Length];
        Span<int> estimate = stackalloc int[CompactCandidates.Length];
        var pooled = ArrayPool<float>.Shared.Rent(relevance.Length);
        var quantised = ArrayPool<byte>.Shared.Rent(relevance.Length);
        try
        {
            for (var c = 0; c < CompactCandidates.Length; c++)
            {
                var (factor, levels, deadZone) = CompactCandidates[c];
                if (factor > Math.Min(width, height))
                {
                    (correlation[c], estimate[c]) = (double.NegativeInfinity, int.MaxValue);
                    continue;
                }

                var map = factor == 1 ? relevance : SumPoolInto(relevance, width, height, factor, pooled);
                (correlation[c], estimate[c]) = Statistics(relevance, width, height, map, factor, levels, deadZone);
            }

            // The smallest candidate that promises to fit and meet the correlation; else the most faithful that promises to
            // fit; else the smallest promise. Deflate it; the real size calibrates every estimate (deflate's matches beat
            // order-0 entropy by a map-dependent factor), and the choice is made again until it stands (usually 1–2 deflates).
            Span<int> actual = stackalloc int[CompactCandidates.Length];
            actual.Fill(-1);
            var ratio = 1.0;
            var encoded = -1;
            HeatmapFrame frame = default;
            for (var attempt = 0; attempt <= CompactCandidates.Length; attempt++)
            {
                var pick = -1;
                var pickRank = -1;
                var pickSize = 0.0;
                for (var c = 0; c < CompactCandidates.Length; c++)
                {
                    if (estimate[c] == int.MaxValue)
                    {
                        continue;
                    }

                    var size = actual[c] >= 0 ? actual[c] : estimate[c] * ratio;
                    var rank = size > maxBytes ? 0 : correlation[c] >= minCorrelation ? 2 : 1;
                    if (rank > pickRank || (rank == pickRank && (rank == 1 ? correlation[c] > correlation[pick] : size < pickSize)))
                    {
                        (pick, pickRank, pickSize) = (c, rank, size);
                    }
                }

                if (actual[pick] >= 0)
                {
                    // The choice stands on a real size: make sure the destination holds it.
                    if (pick != encoded)
                    {
                        frame = EncodeCandidate(relevance, width, height, pick, pooled, quantised, destination);
                    }

                    break;
                }

                frame = EncodeCandidate(relevance, width, height, pick, pooled, quantised, destination);
                encoded = pick;
                actual[pick] = frame.Length;
                ratio = (double)frame.Length / estimate[pick];
            }

            return frame;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pooled);
            ArrayPool<byte>.Shared.Return(quantised);
        }
    }

    private static HeatmapFrame EncodeCandidate(ReadOnlySpan<float> relevance, int width, int height, int candidate, float[] pooled, byte[] quantised, Span<byte> destination)
    {
        var (factor, levels, deadZone) = CompactCandidates[candidate];
        var w = factor == 1 ? width : (width + factor - 1) / factor;
        var h = factor == 1 ? height : (height + factor - 1) / factor;
        ReadOnlySpan<float> map = factor == 1 ? relevance : SumPoolInto(relevance, width, height, factor, pooled);
        var scale = Quantise(map, levels, deadZone, quantised);
        var deflated = t_deflated ??= new MemoryStream(MaxEncodedLength(4096));
        deflated.SetLength(0);
        using (var z = new ZLibStream(deflated, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            z.Write(quantised, 0, map.Length);
        }

        var length = (int)deflated.Length;
        deflated.GetBuffer().AsSpan(0, length).CopyTo(destination);
        return new HeatmapFrame(Version1, w, h, scale, length);
    }

    private static float Quantise(ReadOnlySpan<float> map, int levels, float deadZone, Span<byte> q)
    {
        var max = MaxAbs(map);
        var scale = max > 0 && float.IsFinite(max) ? max / levels : 0f;
        for (var i = 0; i < map.Length; i++)
        {
            q[i] = scale > 0 ? unchecked((byte)(sbyte)Level(map[i], scale, levels, deadZone)) : (byte)0;
        }

        return scale;
    }

    private static float Level(float v, float scale, int levels, float deadZone)
    {
        var u = v / scale;
        return MathF.Abs(u) < deadZone ? 0f : Math.Clamp(MathF.Round(u), -levels, levels);
    }

    private static float MaxAbs(ReadOnlySpan<float> map)
    {
        var max = 0f;
        foreach (var v in map)
        {
            max = Math.Max(max, Math.Abs(v));
        }

        return max;
    }

    /// <summary>
    /// Correlation of the decoded (and spread back) candidate with the input, and its estimated deflated size, in one
    /// pass over the candidate's (possibly shrunk) map: a shrunk value b spreads b/f² over its block, so the cross sum
    /// with the input needs only the block sums (the shrunk map itself) and each block's pixel count.
    /// </summary>
    private static (double R, int Bytes) Statistics(ReadOnlySpan<float> relevance, int width, int height, ReadOnlySpan<float> map, int factor, int levels, float deadZone)
    {
        var max = MaxAbs(map);
        var scale = max > 0 && float.IsFinite(max) ? max / levels : 0f;
        var inv = scale > 0 ? 1f / scale : 0f;
        Span<int> histogram = stackalloc int[256];
        histogram.Clear();
        double sx = 0, sxx = 0;
        foreach (var v in relevance)
        {
            sx += v;
            sxx += (double)v * v;
        }

        var smallWidth = (width + factor - 1) / factor;
        var smallHeight = (height + factor - 1) / factor;
        var share = scale / (factor * factor);
        double sy = 0, syy = 0, sxy = 0;
        for (var by = 0; by < smallHeight; by++)
        {
            var rows = Math.Min(factor, height - (by * factor));
            for (var bx = 0; bx < smallWidth; bx++)
            {
                var j = (by * smallWidth) + bx;
                var u = map[j] * inv;
                var q = MathF.Abs(u) < deadZone ? 0f : Math.Clamp(MathF.Round(u), -levels, levels);
                histogram[(int)q + 128]++;
                if (q == 0)
                {
                    continue;
                }

                double b = q * share;
                double pixels = rows * Math.Min(factor, width - (bx * factor));
                sy += pixels * b;
                syy += pixels * b * b;
                sxy += b * map[j];
            }
        }

        double n = width * height;
        var vx = sxx - (sx * sx / n);
        var vy = syy - (sy * sy / n);
        var r = vx <= 0 || vy <= 0 ? (vx <= 0 && vy <= 0 ? 1 : 0) : (sxy - (sx * sy / n)) / Math.Sqrt(vx * vy);
        double bits = 0;
        double count = map.Length;
        foreach (var k in histogram)
        {
            if (k > 0)
            {
                bits -= k * Math.Log2(k / count);
            }
        }

        // Order-0 entropy plus the zlib header/trailer and a Huffman table; the first real deflate calibrates it.
        return (r, (int)Math.Ceiling(bits / 8) + 40);
    }

    /// <summary>Decodes (v1 or v2) to a row-major width × height map of relevance values.</summary>
    /// <exception cref="NotSupportedException">Another codec version.</exception>
    /// <exception cref="InvalidDataException">Data that is not valid for its version.</exception>
    public static float[] Decode(EncodedHeatmap encoded)
    {
        if (encoded.CodecVersion is not (Version1 or Version2))
        {
            throw new NotSupportedException($"heatmap codec version {encoded.CodecVersion} is not supported (this build knows {Version1} and {Version2})");
        }

        var n = encoded.Width * encoded.Height;
        if (encoded.CodecVersion == Version2)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(encoded.Width, 1);
            ArgumentOutOfRangeException.ThrowIfLessThan(encoded.Height, 1);
            var values = new int[n];
            var problem = HeatmapCodecV2.TryDecode(encoded.Data, encoded.Width, encoded.Height, values);
            if (problem is not null)
            {
                throw new InvalidDataException(problem);
            }

            var relevance = new float[n];
            for (var i = 0; i < n; i++)
            {
                relevance[i] = values[i] * encoded.Scale;
            }

            return relevance;
        }

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

    private static ReadOnlySpan<float> SumPoolInto(ReadOnlySpan<float> map, int width, int height, int factor, float[] into)
    {
        var outWidth = (width + factor - 1) / factor;
        var small = into.AsSpan(0, outWidth * ((height + factor - 1) / factor));
        small.Clear();
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                small[(y / factor * outWidth) + (x / factor)] += map[(y * width) + x];
            }
        }

        return small;
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
