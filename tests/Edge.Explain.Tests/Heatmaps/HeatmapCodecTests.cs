using System.IO.Compression;
using Edge.Explain.Heatmaps;

namespace Edge.Explain.Tests.Heatmaps;

public sealed class HeatmapCodecTests
{
    /// <summary>A face-like relevance map: a few signed blobs plus fine signed texture, 64×64.</summary>
    internal static float[] BlobMap(int seed, int size = 64)
    {
        var rng = new Random(seed);
        var map = new float[size * size];
        for (var b = 0; b < 5; b++)
        {
            var cx = rng.Next(size);
            var cy = rng.Next(size);
            var amp = (float)(rng.NextDouble() - 0.3) * 2;
            var r = 3 + rng.Next(8);
            for (var y = 0; y < size; y++)
            {
                for (var x = 0; x < size; x++)
                {
                    map[(y * size) + x] += amp * MathF.Exp(-(((x - cx) * (x - cx)) + ((y - cy) * (y - cy))) / (2f * r * r));
                }
            }
        }

        for (var i = 0; i < map.Length; i++)
        {
            map[i] += (float)(rng.NextDouble() - 0.5) * 0.02f;
        }

        return map;
    }

    [Fact]
    public void Encode_FullSizeMap_DecodesWithCorrelationAbove099()
    {
        var map = BlobMap(1);
        var encoded = HeatmapCodec.Encode(map, 64, 64);
        var decoded = HeatmapCodec.Decode(encoded);
        Assert.Equal((1, 64, 64), (encoded.CodecVersion, encoded.Width, encoded.Height));
        Assert.True(HeatmapCodec.Correlation(map, decoded) >= 0.99, $"correlation {HeatmapCodec.Correlation(map, decoded)}");
        Assert.Equal(map.Max(Math.Abs) / 127f, encoded.Scale, 6);
    }

    [Fact]
    public void Encode_ShrunkByTwo_HonestSizeKeepsSumAndUnder1KB()
    {
        var map = BlobMap(2);
        var encoded = HeatmapCodec.Encode(map, 64, 64, factor: 2);
        Assert.Equal((32, 32), (encoded.Width, encoded.Height));
        var decoded = HeatmapCodec.Decode(encoded);
        var absSum = map.Sum(Math.Abs);
        Assert.True(Math.Abs(map.Sum() - decoded.Sum()) <= 0.01f * absSum, $"sum {map.Sum()} vs decoded {decoded.Sum()}");
        var back = HeatmapCodec.Expand(decoded, 32, 2, 64, 64);
        var r = HeatmapCodec.Correlation(map, back);
        Assert.True(r >= 0.99, $"correlation {r}");
        Assert.True(encoded.Data.Length <= 1024, $"{encoded.Data.Length} bytes");
    }

    [Fact]
    public void EncodeCompact_TexturedMap_FitsBudgetAtCorrelation099()
    {
        // Blobs plus strong pixel texture, like a z^B map: 127 levels do not fit 1 KB, fewer levels do.
        var rng = new Random(4);
        var map = BlobMap(4).Select(v => v * (1f + (0.6f * (float)(rng.NextDouble() - 0.5)))).ToArray();
        Assert.True(HeatmapCodec.Encode(map, 64, 64).Data.Length > 1024, "the test map is too easy");
        var encoded = HeatmapCodec.EncodeCompact(map, 64, 64);
        Assert.True(encoded.Data.Length <= 1024, $"{encoded.Data.Length} bytes");
        var back = encoded.Width == 64 ? HeatmapCodec.Decode(encoded) : HeatmapCodec.Expand(HeatmapCodec.Decode(encoded), encoded.Width, 64 / encoded.Width, 64, 64);
        Assert.True(HeatmapCodec.Correlation(map, back) >= 0.99, $"r = {HeatmapCodec.Correlation(map, back)}");
    }

    [Fact]
    public void EncodeCompactTo_WarmThread_AllocatesUnder1KBPerFrameAndMatchesEncodeCompact()
    {
        var map = BlobMap(5);
        var destination = new byte[HeatmapCodec.MaxEncodedLength(map.Length)];
        var frame = HeatmapCodec.EncodeCompactTo(map, 64, 64, destination);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10; i++)
        {
            frame = HeatmapCodec.EncodeCompactTo(map, 64, 64, destination);
        }

        var perFrame = (GC.GetAllocatedBytesForCurrentThread() - before) / 10;
        Assert.True(perFrame < 1024, $"{perFrame} bytes allocated per frame");
        var compact = HeatmapCodec.EncodeCompact(map, 64, 64);
        Assert.Equal((compact.Width, compact.Height, compact.Scale), (frame.Width, frame.Height, frame.Scale));
        Assert.Equal(compact.Data, destination.AsSpan(0, frame.Length).ToArray());
        Assert.True(frame.Length <= 1024, $"{frame.Length} bytes");
        var decoded = HeatmapCodec.Decode(compact);
        var back = compact.Width == 64 ? decoded : HeatmapCodec.Expand(decoded, compact.Width, 64 / compact.Width, 64, 64);
        Assert.True(HeatmapCodec.Correlation(map, back) >= 0.99, $"r = {HeatmapCodec.Correlation(map, back)}");
    }

    [Fact]
    public void Encode_FifteenLevels_DecodesWithTheSameV1Rule()
    {
        float[] map = [1f, -0.6f, 0.2f, 0f];
        var encoded = HeatmapCodec.Encode(map, 2, 2, levels: 15);
        Assert.Equal(1f / 15f, encoded.Scale, 6);
        Assert.Equal(new[] { 1f, -9f / 15f, 3f / 15f, 0f }, HeatmapCodec.Decode(encoded), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Encode_AllZeroMap_ScaleZeroAndDecodesToZeros()
    {
        var encoded = HeatmapCodec.Encode(new float[16], 4, 4);
        Assert.Equal(0f, encoded.Scale);
        Assert.All(HeatmapCodec.Decode(encoded), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Decode_WireBytes_AreZlibOfSignedInt8RowMajor()
    {
        // The audit page decodes v1 by the text of the spec: zlib → int8[w×h] → × scale. Check the bytes, not just the round trip.
        float[] map = [1f, -0.5f, 0f, 0.25f, -1f, 0.125f];
        var encoded = HeatmapCodec.Encode(map, 3, 2);
        using var z = new ZLibStream(new MemoryStream(encoded.Data), CompressionMode.Decompress);
        var raw = new byte[6];
        z.ReadExactly(raw);
        Assert.Equal(new sbyte[] { 127, -64, 0, 32, -127, 16 }, raw.Select(b => (sbyte)b).ToArray());
        Assert.Equal(1f / 127f, encoded.Scale, 7);
    }

    [Fact]
    public void Decode_UnknownVersion_Throws()
    {
        var encoded = HeatmapCodec.Encode(new float[4], 2, 2) with { CodecVersion = 9 };
        Assert.Throws<NotSupportedException>(() => HeatmapCodec.Decode(encoded));
    }

    [Fact]
    public void Correlation_OppositeMaps_IsMinusOne()
    {
        float[] a = [1, 2, 3, 4];
        Assert.Equal(-1, HeatmapCodec.Correlation(a, [.. a.Select(v => -v)]), 6);
    }
}

internal sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

    public int GetHashCode(float obj) => 0;
}
