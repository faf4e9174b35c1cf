using Edge.Explain.Heatmaps;

namespace Edge.Explain.Tests.Heatmaps;

public sealed class BinaryRangeCoderTests
{
    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(2, 0.02)]
    [InlineData(3, 0.98)]
    [InlineData(4, 0.3)]
    public void Decode_WhatWasEncoded_SameBitsAndEveryByteRead(int seed, double chanceOfOne)
    {
        // Adaptive bits in 8 contexts mixed with direct bits, as the codec uses them.
        var rng = new Random(seed);
        var bits = new (int Kind, int Context, uint Value)[5000];
        for (var i = 0; i < bits.Length; i++)
        {
            bits[i] = rng.Next(10) == 0 ? (1, 0, (uint)rng.Next(1 << 7)) : (0, rng.Next(8), rng.NextDouble() < chanceOfOne ? 1u : 0u);
        }

        var buffer = new byte[8192];
        var encoder = new RangeEncoder(buffer);
        var models = new BitModel[8];
        Array.Fill(models, BitModel.Initial);
        foreach (var (kind, context, value) in bits)
        {
            if (kind == 0)
            {
                encoder.Encode(ref models[context], (int)value);
            }
            else
            {
                encoder.EncodeDirect(value, 7);
            }
        }

        var length = encoder.Finish();
        Assert.False(encoder.Overflow);
        Assert.True(length == 0 || buffer[length - 1] != 0, "trailing zero bytes are trimmed");

        var decoder = new RangeDecoder(buffer.AsSpan(0, length));
        Array.Fill(models, BitModel.Initial);
        foreach (var (kind, context, value) in bits)
        {
            Assert.Equal(value, kind == 0 ? (uint)decoder.Decode(ref models[context]) : decoder.DecodeDirect(7));
        }

        Assert.True(decoder.Position >= length, $"decoder read {decoder.Position} of {length} bytes");
    }

    [Fact]
    public void Encode_PastTheDestination_CountsAndFlagsOverflow()
    {
        var buffer = new byte[4];
        var encoder = new RangeEncoder(buffer);
        var rng = new Random(5);
        for (var i = 0; i < 400; i++)
        {
            encoder.EncodeDirect((uint)rng.Next(256), 8);
        }

        var length = encoder.Finish();

        Assert.True(encoder.Overflow);
        Assert.True(length > 390, $"{length}");
    }

    [Fact]
    public void BitModel_RunOfZeros_MovesFastThenSettlesWithinBounds()
    {
        var model = BitModel.Initial;
        model.Update(0);
        Assert.Equal(49152, model.P); // first step: half the distance
        for (var i = 0; i < 10_000; i++)
        {
            model.Update(0);
        }

        Assert.InRange(model.P, 65_000, 65_535);
        for (var i = 0; i < 10_000; i++)
        {
            model.Update(1);
        }

        Assert.InRange(model.P, 1, 600);
    }
}
