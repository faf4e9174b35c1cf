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
