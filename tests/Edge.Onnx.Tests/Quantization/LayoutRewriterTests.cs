using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Quantization;

/// <summary>The float rewrites made for ORT's integer kernels: exact in float, and only where their shapes are fixed.</summary>
public sealed class LayoutRewriterTests : IDisposable
{
    private const int Size = 32;
    private readonly OrtEnvironment _environment = OrtEnvironment.Create();

    public void Dispose() => _environment.Dispose();

    private List<NamedTensor> Samples(int count, int seed) =>
        MiniXception.Images(count, Size, seed).Select(p => NamedTensor.FromFloat(MiniXception.Input, p, 1, Size, Size, 1)).ToList();

    private float[][] Run(ModelProto model, IEnumerable<NamedTensor> inputs)
    {
        using var session = _environment.CreateSession(OnnxModel.ToBytes(model), new SessionSettings { IntraOpThreads = 1 });
        return inputs.Select(i => session.Run(i)[0].AsFloat()).ToArray();
    }

    [Theory]
    [InlineData(MiniXception.Head.Conv)]
    [InlineData(MiniXception.Head.Gemm)]
    public void Apply_MiniXceptionFloat_SameProbabilitiesWithinFloatRounding(MiniXception.Head head)
    {
        var model = MiniXception.Build(Size, head);
        var statistics = Quantizer.Calibrate(_environment, model, Samples(8, 11));
        var rewritten = model.Clone();
        var notes = LayoutRewriter.Apply(rewritten, statistics.ByName, new QuantizerOptions { KeepSingleChannelConvFloat = false });

        // Conv head: stem, pooled head and Relu branch; Gemm head: no Conv before the pool, so two.
        Assert.Equal(head == MiniXception.Head.Conv ? 3 : 2, notes.Count);
        var stem = rewritten.Graph.Node.Single(n => n.Name == "stem1");
        Assert.Equal([8L, 4, 2, 2], OnnxModel.FindInitializer(rewritten, stem.Input[1])!.Dims);
        var heldOut = Samples(16, 99);
        var expected = Run(model, heldOut);
        var actual = Run(rewritten, heldOut);
        var maxDiff = expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => MathF.Abs(x - y)).Max()).Max();
        Assert.InRange(maxDiff, 0f, 1e-5f);
    }

    [Fact]
    public void Apply_SymbolicImageSize_OnlyTheShapeFreeReluBranch()
    {
        var model = MiniXception.Build(Size);
        var statistics = Quantizer.Calibrate(_environment, model, Samples(4, 11));
        var dims = model.Graph.Input[0].Type.TensorType.Shape.Dim;
        dims[1] = new TensorShapeProto.Types.Dimension { DimParam = "H" };
        dims[2] = new TensorShapeProto.Types.Dimension { DimParam = "W" };
        var notes = LayoutRewriter.Apply(model, statistics.ByName, new QuantizerOptions { KeepSingleChannelConvFloat = false });
        var note = Assert.Single(notes);
        Assert.Contains("Relu branch", note, StringComparison.Ordinal);
        Assert.Equal([8L, 1, 3, 3], OnnxModel.FindInitializer(model, model.Graph.Node.Single(n => n.Name == "stem1").Input[1])!.Dims);
    }

    [Fact]
    public void Apply_KeepLastLayerFloat_HeadConvStays()
    {
        var model = MiniXception.Build(Size);
        var statistics = Quantizer.Calibrate(_environment, model, Samples(4, 11));
        LayoutRewriter.Apply(model, statistics.ByName, new QuantizerOptions { KeepLastLayerFloat = true });
        Assert.Contains(model.Graph.Node, n => n.Name == "head" && n.OpType == "Conv");
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "Gemm");
    }
}
