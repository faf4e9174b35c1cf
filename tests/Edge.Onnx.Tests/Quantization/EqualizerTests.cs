using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Quantization;

public sealed class EqualizerTests : IDisposable
{
    private const int Size = 32;
    private readonly OrtEnvironment _environment = OrtEnvironment.Create();

    public void Dispose() => _environment.Dispose();

    private static List<NamedTensor> Samples(int seed) =>
        MiniXception.Images(24, Size, seed).Select(p => NamedTensor.FromFloat(MiniXception.Input, p, 1, Size, Size, 1)).ToList();

    private float[][] Run(ModelProto model, IReadOnlyList<NamedTensor> inputs)
    {
        using var session = _environment.CreateSession(OnnxModel.ToBytes(model));
        return inputs.Select(i => session.Run(i)[0].AsFloat()).ToArray();
    }

    [Fact]
    public void Equalize_MiniXception_SameFloatOutputsAndNarrowerChannelSpread()
    {
        var model = MiniXception.Build(Size);
        var statistics = Quantizer.Calibrate(_environment, model, Samples(11));
        var result = Quantizer.Equalize(model, statistics);

        // Pairs: stem1→stem2 (through Relu), dw→pw and pw→(Relu)→dw inside the blocks; stem2's output also feeds
        // the residual conv and a depthwise conv, both equalizable.
        Assert.True(result.Pairs.Count >= 5, $"only {result.Pairs.Count} pairs equalized");
        Assert.All(result.Pairs, p => Assert.True(p.RangeRatioAfter <= p.RangeRatioBefore + 1e-3f, $"{p.Tensor}: {p.RangeRatioBefore} → {p.RangeRatioAfter}"));
        Assert.Contains(result.Pairs, p => p.RangeRatioAfter < p.RangeRatioBefore * 0.8f);

        var heldOut = Samples(99);
        var before = Run(model, heldOut);
        var after = Run(result.Model, heldOut);
        for (var i = 0; i < before.Length; i++)
        {
            for (var k = 0; k < before[i].Length; k++)
            {
                Assert.Equal(before[i][k], after[i][k], 4);
            }
        }

        // The measured channel ranges of an equalized tensor are now the ones the pair predicted.
        var again = Quantizer.Calibrate(_environment, result.Model, Samples(11));
        var pair = result.Pairs.MaxBy(p => p.RangeRatioBefore / p.RangeRatioAfter)!;
        var ranges = again.ByName[pair.Tensor].ChannelAbsMax!.Where(r => r > 0).ToList();
        Assert.Equal(pair.RangeRatioAfter, ranges.Max() / ranges.Min(), 2);
    }

    [Fact]
    public void Equalize_DepthwiseConsumer_AllChannelsReachTheLargestRange()
    {
        var model = MiniXception.Build(Size);
        var statistics = Quantizer.Calibrate(_environment, model, Samples(11));
        var result = Quantizer.Equalize(model, statistics);
        // block1_pw1 → Relu → block1_dw2 (depthwise only): a free rescale, so the spread becomes 1.
        var pair = result.Pairs.Single(p => p.Producer == "block1_pw1");
        Assert.Equal(["block1_dw2"], pair.Consumers);
        Assert.Equal(1f, pair.RangeRatioAfter, 3);
    }

    [Fact]
    public void Equalize_Strength_MovesDensePairsFromBalancedToEqualActivationRanges()
    {
        var model = MiniXception.Build(Size);
        var statistics = Quantizer.Calibrate(_environment, model, Samples(11));
        // block1_dw1 → block1_pw1 (dense consumer): √(r/w) at 0.5; at 1 every channel gets the same activation range.
        float Spread(float strength) => Quantizer.Equalize(model, statistics, strength).Pairs.Single(p => p.Producer == "block1_dw1").RangeRatioAfter;
        var (half, threeQuarters, one) = (Spread(0.5f), Spread(0.75f), Spread(1f));
        Assert.Equal(1f, one, 3);
        Assert.True(one < threeQuarters && threeQuarters < half, $"spread {half} → {threeQuarters} → {one}");
        Assert.Equal(OnnxModel.ToBytes(Quantizer.Equalize(model, statistics).Model), OnnxModel.ToBytes(Quantizer.Equalize(model, statistics, 0.5f).Model));
    }

    [Theory]
    [InlineData(0.4f)]
    [InlineData(1.1f)]
    public void Validate_EqualizationStrengthOutsideHalfToOne_ThrowsNamingTheSetting(float strength)
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantizerOptions { EqualizationStrength = strength }.Validate());
        Assert.Contains("EqualizationStrength", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Equalize_SharedWeightInitializer_PairIsLeftAlone()
    {
        var model = MiniXception.Build(Size);
        var statistics = Quantizer.Calibrate(_environment, model, Samples(11));
        // Make block2_dw read block1_dw2's weights too (same shape): scaling them for one would break the other.
        var dw = model.Graph.Node.Single(n => n.Name == "block2_dw");
        dw.Input[1] = "block1_dw2_w";
        var result = Quantizer.Equalize(model, statistics);
        Assert.DoesNotContain(result.Pairs, p => p.Producer is "block1_pw1" or "block1_dw2" or "block2_dw");
        Assert.Contains(result.Pairs, p => p.Producer == "block1_dw1");
    }
}

public sealed class BiasCorrectionTests : IDisposable
{
    private const int Size = 32;
    private readonly OrtEnvironment _environment = OrtEnvironment.Create();

    public void Dispose() => _environment.Dispose();

    /// <summary>Mean over samples and positions of each channel of a node's output (exposed as an extra output).</summary>
    private double[] ChannelMeans(ModelProto model, string node, IReadOnlyList<NamedTensor> samples)
    {
        var m = model.Clone();
        var tensor = m.Graph.Node.Single(n => n.Name == node).Output[0];
        m.Graph.Output.Add(new ValueInfoProto { Name = tensor, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        using var session = _environment.CreateSession(OnnxModel.ToBytes(m), new SessionSettings { GraphOptimizationLevel = GraphOptimizationLevel.Basic });
        double[]? sums = null;
        foreach (var s in samples)
        {
            var t = session.Run([s], [tensor], CancellationToken.None)[0];
            var v = t.AsFloat();
            var plane = (int)(t.Shape[2] * t.Shape[3]);
            sums ??= new double[t.Shape[1]];
            for (var c = 0; c < sums.Length; c++)
            {
                sums[c] += v.AsSpan(c * plane, plane).ToArray().Average();
            }
        }

        return sums!.Select(x => x / samples.Count).ToArray();
    }

    [Fact]
    public void CorrectBias_MiniXception_QuantizedChannelMeansCloserToFloat()
    {
        var model = MiniXception.Build(Size);
        var samples = MiniXception.Images(24, Size, 11).Select(p => NamedTensor.FromFloat(MiniXception.Input, p, 1, Size, Size, 1)).ToList();
        var statistics = Quantizer.Calibrate(_environment, model, samples);
        var options = new QuantizerOptions { Calibration = CalibrationMethod.MinMax, Equalize = false };
        var corrected = Quantizer.CorrectBias(_environment, model, statistics, samples.Select(s => (IReadOnlyList<NamedTensor>)[s]).ToList(), options);

        // Only biases move.
        var changed = corrected.Graph.Initializer.Where(t => !model.Graph.Initializer.Single(o => o.Name == t.Name).Equals(t)).Select(t => t.Name).ToList();
        Assert.NotEmpty(changed);
        Assert.All(changed, n => Assert.EndsWith("_b", n, StringComparison.Ordinal));

        // Deepest conv before the head: its quantized output's channel means approach the float ones.
        const string Node = "block2_pw";
        var reference = ChannelMeans(model, Node, samples);
        double Error(ModelProto source) =>
            ChannelMeans(Quantizer.Quantize(source, statistics, options).Model, Node, samples).Zip(reference, (q, r) => Math.Abs(q - r)).Sum();
        var before = Error(model);
        var after = Error(corrected);
        Assert.True(after < before * 0.5, $"channel-mean error {before:G3} → {after:G3}");
    }
}
