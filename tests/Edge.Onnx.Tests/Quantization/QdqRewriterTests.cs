using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Quantization;

namespace Edge.Onnx.Tests.Quantization;

/// <summary>Structure of the QDQ graph (no runtime needed): where Q/DQ go, what stays float, determinism.</summary>
public sealed class QdqRewriterTests
{
    /// <summary>Statistics with a made-up spread per tensor: structure does not depend on the values.</summary>
    internal static CalibrationStatistics FakeStatistics(ModelProto model)
    {
        var collector = new CalibrationCollector(256);
        var targets = Quantizer.CalibrationTargets(model);
        float[] values = [-1.5f, -0.25f, 0f, 0.5f, 2f, 3f];
        foreach (var t in targets)
        {
            collector.ObserveRange(t, values);
        }

        collector.BeginHistograms();
        foreach (var t in targets)
        {
            collector.ObserveHistogram(t, values);
        }

        return collector.Build();
    }

    /// <summary>
    /// The mini model quantized with every Conv integer (its stem has one input channel, which the defaults keep float;
    /// <see cref="Quantize_Defaults_SingleChannelStemStaysFloatAndTheInputIsNotQuantized"/> covers that).
    /// </summary>
    private static QuantizationResult QuantizeMini(QuantizerOptions? options = null, MiniXception.Head head = MiniXception.Head.Conv)
    {
        var model = MiniXception.Build(head: head);
        return Quantizer.Quantize(model, FakeStatistics(model), (options ?? new QuantizerOptions()) with { KeepSingleChannelConvFloat = false });
    }

    [Fact]
    public void Quantize_Defaults_SingleChannelStemStaysFloatAndTheInputIsNotQuantized()
    {
        var model = MiniXception.Build();
        var result = Quantizer.Quantize(model, FakeStatistics(model), new QuantizerOptions());
        var g = result.Model.Graph;
        var stem = g.Node.Single(n => n.Name == "stem1");
        Assert.Equal("stem1_w", stem.Input[1]);
        Assert.Contains(result.FloatNodes, f => f.Node == "stem1" && f.Reason.StartsWith("KeepSingleChannelConvFloat", StringComparison.Ordinal));
        Assert.DoesNotContain(g.Node, n => n.OpType == "QuantizeLinear" && n.Input[0] == MiniXception.Input);
        // Its Relu runs in float too and only the Relu output is quantized, for stem2.
        var relu = Assert.Single(Consumers(g, stem.Output[0]));
        Assert.Equal("Relu", relu.OpType);
        Assert.Equal("QuantizeLinear", Assert.Single(Consumers(g, relu.Output[0])).OpType);
        Assert.Equal(9, g.Node.Count(n => n.OpType == "Conv" && n.Input[1].EndsWith("_dequantized", StringComparison.Ordinal)));
    }

    private static NodeProto Producer(GraphProto g, string tensor) => g.Node.Single(n => n.Output.Contains(tensor));

    private static List<NodeProto> Consumers(GraphProto g, string tensor) => g.Node.Where(n => n.Input.Contains(tensor)).ToList();

    [Fact]
    public void Quantize_EveryConv_ReadsDequantizedInputInt8PerChannelWeightAndInt32Bias()
    {
        var result = QuantizeMini();
        var g = result.Model.Graph;
        var convs = g.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(10, convs.Count);
        foreach (var conv in convs)
        {
            var input = Producer(g, conv.Input[0]);
            var weight = Producer(g, conv.Input[1]);
            var bias = Producer(g, conv.Input[2]);
            Assert.All(new[] { input, weight, bias }, n => Assert.Equal("DequantizeLinear", n.OpType));

            var w = OnnxModel.FindInitializer(result.Model, weight.Input[0])!;
            Assert.Equal((int)TensorElementType.Int8, w.DataType);
            var wScale = OnnxModel.FindInitializer(result.Model, weight.Input[1])!;
            Assert.Equal(w.Dims[0], wScale.Dims.Single());
            Assert.Equal(0, weight.Attribute.Single(a => a.Name == "axis").I);
            Assert.All(Tensors.ToSByteArray(OnnxModel.FindInitializer(result.Model, weight.Input[2])!), z => Assert.Equal(0, z));

            var b = OnnxModel.FindInitializer(result.Model, bias.Input[0])!;
            Assert.Equal((int)TensorElementType.Int32, b.DataType);
            var inputScale = OnnxModel.ReadFloatInitializer(result.Model, input.Input[1]).Single();
            var biasScale = OnnxModel.ReadFloatInitializer(result.Model, bias.Input[1]);
            var weightScale = Tensors.ToFloatArray(wScale);
            for (var c = 0; c < biasScale.Length; c++)
            {
                Assert.Equal(inputScale * weightScale[c], biasScale[c]);
            }

            // The Conv's only consumer is its output QuantizeLinear (what QLinearConv fusion needs).
            var q = Assert.Single(Consumers(g, conv.Output[0]));
            Assert.Equal("QuantizeLinear", q.OpType);
            Assert.Equal((int)TensorElementType.UInt8, OnnxModel.FindInitializer(result.Model, q.Input[2])!.DataType);
        }
    }

    [Fact]
    public void Quantize_ReluAfterConv_RemovedAndOutputQHasZeroPointZero()
    {
        var result = QuantizeMini();
        var g = result.Model.Graph;
        // Three after Convs, one after the residual Add, which the rewrite gives an Add of its own (the other copy
        // feeds the second residual Add).
        Assert.Equal(4, result.FoldedRelus.Count);
        Assert.DoesNotContain(g.Node, n => n.OpType == "Relu");
        foreach (var conv in g.Node.Where(n => n.OpType == "Conv" && n.Name is "stem1" or "stem2" or "block1_pw1"))
        {
            var q = Consumers(g, conv.Output[0]).Single();
            Assert.Equal(new byte[] { 0 }, Tensors.ToByteArray(OnnxModel.FindInitializer(result.Model, q.Input[2])!));
        }
    }

    [Fact]
    public void Quantize_AddReadByReluAndResidual_ReluBranchGetsItsOwnAddWithZeroPointZero()
    {
        var result = QuantizeMini();
        var g = result.Model.Graph;
        var adds = g.Node.Where(n => n.OpType == "Add").ToList();
        Assert.Equal(3, adds.Count);
        var branch = Assert.Single(adds, a => a.Name.EndsWith("/relu_branch", StringComparison.Ordinal));
        var original = adds.Single(a => a.Name == branch.Name[..^"/relu_branch".Length]);
        // Same inputs (each through its own DequantizeLinear of the same quantized tensor).
        Assert.Equal(original.Input.Select(i => Producer(g, i).Input[0]), branch.Input.Select(i => Producer(g, i).Input[0]));
        var q = Assert.Single(Consumers(g, branch.Output[0]));
        Assert.Equal(new byte[] { 0 }, Tensors.ToByteArray(OnnxModel.FindInitializer(result.Model, q.Input[2])!));
        Assert.Contains(result.Rewrites, r => r.Contains("Relu branch", StringComparison.Ordinal));
    }

    [Fact]
    public void Quantize_NoRewrites_ReluAfterResidualAddStaysBetweenQAndDq()
    {
        var result = QuantizeMini(new QuantizerOptions { RewriteForIntegerKernels = false });
        Assert.Equal(3, result.FoldedRelus.Count);
        Assert.Single(result.Model.Graph.Node, n => n.OpType == "Relu");
        Assert.Empty(result.Rewrites);
    }

    [Fact]
    public void Quantize_Int8Activations_KeepsReluAndUsesSymmetricInt8()
    {
        var result = QuantizeMini(new QuantizerOptions { ActivationType = ActivationType.Int8 });
        var g = result.Model.Graph;
        Assert.Empty(result.FoldedRelus);
        Assert.Equal(4, g.Node.Count(n => n.OpType == "Relu"));
        foreach (var q in g.Node.Where(n => n.OpType == "QuantizeLinear"))
        {
            var zp = OnnxModel.FindInitializer(result.Model, q.Input[2])!;
            Assert.Equal((int)TensorElementType.Int8, zp.DataType);
            Assert.Equal(new sbyte[] { 0 }, Tensors.ToSByteArray(zp));
        }
    }

    [Fact]
    public void Quantize_MaxPoolAndInputTranspose_ShareScaleAndZeroPointWithTheirInput()
    {
        var result = QuantizeMini();
        var g = result.Model.Graph;
        foreach (var node in g.Node.Where(n => n.OpType is "MaxPool" or "Transpose"))
        {
            var dq = Producer(g, node.Input[0]);
            var q = Assert.Single(Consumers(g, node.Output[0]));
            Assert.Equal("DequantizeLinear", dq.OpType);
            Assert.Equal("QuantizeLinear", q.OpType);
            Assert.Equal(OnnxModel.ReadFloatInitializer(result.Model, dq.Input[1]), OnnxModel.ReadFloatInitializer(result.Model, q.Input[1]));
            Assert.Equal(Tensors.ToByteArray(OnnxModel.FindInitializer(result.Model, dq.Input[2])!), Tensors.ToByteArray(OnnxModel.FindInitializer(result.Model, q.Input[2])!));
        }

        // The graph input is quantized before the Transpose, so the Transpose can run on uint8.
        var first = Assert.Single(Consumers(g, MiniXception.Input));
        Assert.Equal("QuantizeLinear", first.OpType);
    }

    [Fact]
    public void Quantize_Defaults_SoftmaxAndGlobalAveragePoolStayFloatAndOutputNameIsKept()
    {
        var result = QuantizeMini();
        var g = result.Model.Graph;
        var softmax = g.Node.Single(n => n.OpType == "Softmax");
        Assert.Equal(MiniXception.Output, softmax.Output.Single());
        Assert.Equal("Flatten", Producer(g, softmax.Input[0]).OpType);
        var pool = g.Node.Single(n => n.OpType == "GlobalAveragePool");
        Assert.Equal("DequantizeLinear", Producer(g, pool.Input[0]).OpType);
        Assert.Contains(result.FloatNodes, f => f.Node == softmax.Name && f.Reason == "KeepFloatOpTypes");
    }

    [Fact]
    public void Quantize_KeepLastLayerFloat_HeadConvKeepsFloatWeights()
    {
        var result = QuantizeMini(new QuantizerOptions { KeepLastLayerFloat = true });
        var g = result.Model.Graph;
        var head = g.Node.Single(n => n.Name == "head");
        Assert.Equal("head_w", head.Input[1]);
        Assert.Equal((int)TensorElementType.Float, OnnxModel.FindInitializer(result.Model, "head_w")!.DataType);
        Assert.Equal("DequantizeLinear", Producer(g, head.Input[0]).OpType);
        Assert.DoesNotContain(Consumers(g, head.Output[0]), n => n.OpType == "QuantizeLinear");
        Assert.Contains(result.FloatNodes, f => f.Node == "head" && f.Reason == "KeepLastLayerFloat");
    }

    [Fact]
    public void Quantize_KeepFloatNodes_NamedConvStaysFloat()
    {
        var options = new QuantizerOptions { KeepFloatNodes = new HashSet<string>(StringComparer.Ordinal) { "block1_dw2" } };
        var g = QuantizeMini(options).Model.Graph;
        Assert.Equal("block1_dw2_w", g.Node.Single(n => n.Name == "block1_dw2").Input[1]);
    }

    [Fact]
    public void Quantize_StemConvKeptFloat_ItsReluStaysFloatAndOnlyTheReluOutputIsQuantized()
    {
        // Quantizing the Relu's input instead would spend half the levels on values the Relu then zeroes.
        var options = new QuantizerOptions { KeepFloatNodes = new HashSet<string>(StringComparer.Ordinal) { "stem1" } };
        var result = QuantizeMini(options);
        var g = result.Model.Graph;
        var stem = g.Node.Single(n => n.Name == "stem1");
        var relu = Assert.Single(Consumers(g, stem.Output[0]));
        Assert.Equal("Relu", relu.OpType);
        Assert.Equal("QuantizeLinear", Assert.Single(Consumers(g, relu.Output[0])).OpType);
        Assert.DoesNotContain(result.Tensors, t => t.Name == stem.Output[0]);
    }

    [Theory]
    [InlineData(MiniXception.Head.MatMul)]
    [InlineData(MiniXception.Head.Gemm)]
    public void Quantize_DenseHead_WeightPerColumnAndOutputQuantizedOnlyForAnIntegerConsumer(MiniXception.Head head)
    {
        var result = QuantizeMini(head: head);
        var g = result.Model.Graph;
        var dense = g.Node.Single(n => n.OpType == head.ToString());
        var weight = Producer(g, dense.Input[1]);
        Assert.Equal("DequantizeLinear", weight.OpType);
        Assert.Equal(head == MiniXception.Head.Gemm ? 0 : 1, weight.Attribute.Single(a => a.Name == "axis").I);
        Assert.Equal(7, OnnxModel.ReadFloatInitializer(result.Model, weight.Input[1]).Length);
        // MatMul feeds the (quantized) bias Add: its output is quantized. Gemm feeds the float Softmax: its output
        // stays float, so ORT runs a float-output QGemm.
        Assert.Equal(head == MiniXception.Head.MatMul ? "QuantizeLinear" : "Softmax", Assert.Single(Consumers(g, dense.Output[0])).OpType);
    }

    [Fact]
    public void Quantize_SameInputsTwice_ByteIdenticalModels()
    {
        var first = OnnxModel.ToBytes(QuantizeMini().Model);
        var second = OnnxModel.ToBytes(QuantizeMini().Model);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Quantize_Opset12_ThrowsNamingTheOpset()
    {
        var model = MiniXception.Build(opset: 12);
        var e = Assert.Throws<NotSupportedException>(() => Quantizer.Quantize(model, FakeStatistics(model), new QuantizerOptions()));
        Assert.Contains("opset 12", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quantize_MissingStatistics_ThrowsNamingTheTensor()
    {
        var model = MiniXception.Build();
        var other = MiniXception.Build(head: MiniXception.Head.Gemm);
        var e = Assert.Throws<InvalidOperationException>(() => Quantizer.Quantize(model, FakeStatistics(other), new QuantizerOptions()));
        Assert.Contains("was not observed during calibration", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quantize_Source_IsNotModified()
    {
        var model = MiniXception.Build();
        var before = OnnxModel.ToBytes(model);
        _ = Quantizer.Quantize(model, FakeStatistics(model), new QuantizerOptions());
        Assert.Equal(before, OnnxModel.ToBytes(model));
    }
}
