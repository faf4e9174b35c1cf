using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Quantization;

/// <summary>The quantizer against a real ONNX Runtime session: calibration, accuracy and what ORT fuses.</summary>
public sealed class OrtQuantizationTests : IDisposable
{
    private const int Size = 32;
    private readonly OrtEnvironment _environment = OrtEnvironment.Create();
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-quant-").FullName;

    public void Dispose()
    {
        _environment.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static NamedTensor Image(float[] pixels) => NamedTensor.FromFloat(MiniXception.Input, pixels, 1, Size, Size, 1);

    private static IReadOnlyList<NamedTensor> CalibrationSet() => MiniXception.Images(48, Size, seed: 11).Select(Image).ToList();

    private static IReadOnlyList<NamedTensor> HeldOut() => MiniXception.Images(40, Size, seed: 99).Select(Image).ToList();

    private float[][] Run(ModelProto model, IReadOnlyList<NamedTensor> inputs)
    {
        using var session = _environment.CreateSession(OnnxModel.ToBytes(model), new SessionSettings { IntraOpThreads = 1 });
        return inputs.Select(i => session.Run(i)[0].AsFloat()).ToArray();
    }

    /// <summary>ORT's optimised graph (what it really runs) for a model, read back from the dump.</summary>
    private ModelProto Optimised(ModelProto model, string name)
    {
        var path = Path.Combine(_directory, name + ".optimised.onnx");
        using (_environment.CreateSession(OnnxModel.ToBytes(model), new SessionSettings { IntraOpThreads = 1, OptimizedModelFilePath = path }))
        {
        }

        return OnnxModel.Load(path);
    }

    private static int ArgMax(float[] v) => Array.IndexOf(v, v.Max());

    [Fact]
    public void Calibrate_MiniXception_ObservesEveryTargetAndFoldedReluOutputsAreNonNegative()
    {
        var model = MiniXception.Build(Size);
        var statistics = Quantizer.Calibrate(_environment, model, CalibrationSet());
        Assert.Equal(Quantizer.CalibrationTargets(model), statistics.Tensors.Select(t => t.Name));
        Assert.Equal(48, statistics.SampleCount);
        var reluOutputs = model.Graph.Node.Where(n => n.OpType == "Relu").Select(n => n.Output[0]).ToList();
        Assert.All(reluOutputs, r => Assert.Equal(0f, statistics.ByName[r].Min));
        Assert.All(reluOutputs, r => Assert.True(statistics.ByName[r].Max > 0));
        Assert.Equal(48L * Size * Size, statistics.ByName[MiniXception.Input].Count);
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax, ActivationType.UInt8)]
    [InlineData(CalibrationMethod.Percentile, ActivationType.UInt8)]
    [InlineData(CalibrationMethod.Entropy, ActivationType.UInt8)]
    [InlineData(CalibrationMethod.MinMax, ActivationType.Int8)]
    public void Quantize_MiniXceptionHeldOutImages_ProbabilitiesCloseToFloat(CalibrationMethod method, ActivationType type)
    {
        var model = MiniXception.Build(Size);
        var options = new QuantizerOptions { Calibration = method, ActivationType = type };
        var quantized = Quantizer.Quantize(_environment, model, CalibrationSet().Select(s => (IReadOnlyList<NamedTensor>)[s]), options).Model;

        var heldOut = HeldOut();
        var expected = Run(model, heldOut);
        var actual = Run(quantized, heldOut);
        var maxDiff = 0f;
        var agree = 0;
        for (var i = 0; i < heldOut.Count; i++)
        {
            maxDiff = MathF.Max(maxDiff, expected[i].Zip(actual[i], (e, a) => MathF.Abs(e - a)).Max());
            agree += ArgMax(expected[i]) == ArgMax(actual[i]) ? 1 : 0;
        }

        // The float model's probabilities spread over several classes, so a broken scale or zero point shows.
        var confidence = expected.Select(e => e.Max()).Average();
        Assert.True(confidence < 0.8f, $"the test model is too confident to reveal errors (mean top probability {confidence})");
        Assert.InRange(maxDiff, 0f, 0.05f);
        Assert.InRange(agree, heldOut.Count - 2, heldOut.Count);
    }

    [Fact]
    public void Quantize_WrongZeroPointOrScale_IsCaughtByTheComparison()
    {
        // Guard for the test above: a QDQ model whose activations are quantized with a far too coarse scale must
        // fail the same tolerance, so the tolerance is not vacuous.
        var model = MiniXception.Build(Size);
        var statistics = Quantizer.Calibrate(_environment, model, CalibrationSet());
        var quantized = Quantizer.Quantize(model, statistics, new QuantizerOptions { Calibration = CalibrationMethod.MinMax }).Model;
        foreach (var init in quantized.Graph.Initializer.Where(t => t.Name.EndsWith("_scale", StringComparison.Ordinal) && t.Dims.Count == 0))
        {
            var scale = Tensors.ToFloatArray(init)[0] * 40f;
            init.RawData = Tensors.Create(init.Name, [scale]).RawData;
        }

        var heldOut = HeldOut();
        var expected = Run(model, heldOut);
        var actual = Run(quantized, heldOut);
        var maxDiff = expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => MathF.Abs(x - y)).Max()).Max();
        Assert.True(maxDiff > 0.05f, $"a 40× coarser activation scale still matched within 0.05 (max diff {maxDiff})");
    }

    [Fact]
    public void OptimisedGraph_UInt8Default_FloatStemThenOnlyIntegerKernelsAndAFloatOutputQGemmHead()
    {
        var model = MiniXception.Build(Size);
        var result = Quantizer.Quantize(_environment, model, CalibrationSet().Select(s => (IReadOnlyList<NamedTensor>)[s]), new QuantizerOptions());
        var optimised = Optimised(result.Model, "uint8");
        var ops = optimised.Graph.Node.Select(n => n.OpType).ToList();

        // 10 Convs: the one-channel stem runs in float (ORT's NCHWc Conv), the head Conv + GlobalAveragePool became one
        // float-output QGemm, the other 8 run as QLinearConv; the residual Add read by a Relu and by the next Add runs
        // twice as QLinearAdd.
        var floatConv = Assert.Single(optimised.Graph.Node, n => n.OpType == "Conv");
        Assert.Equal("com.microsoft.nchwc", floatConv.Domain);
        Assert.Equal(8, ops.Count(o => o == "QLinearConv"));
        Assert.Equal(3, ops.Count(o => o == "QLinearAdd"));
        var gemm = Assert.Single(optimised.Graph.Node, n => n.OpType == "QGemm");
        // Inputs A, a_scale, a_zero_point, B, b_scale, b_zero_point, C, y_scale, y_zero_point: no y_scale, a float output.
        Assert.True(gemm.Input.Count <= 7 || gemm.Input[7].Length == 0, $"QGemm has a y_scale: {string.Join(", ", gemm.Input)}");
        Assert.DoesNotContain("GlobalAveragePool", ops);
        Assert.DoesNotContain(ops, o => o.EndsWith("MaxPool", StringComparison.Ordinal) && !IsUInt8MaxPool(optimised, o));
        Assert.Contains(ops, o => o.EndsWith("MaxPool", StringComparison.Ordinal));
        // One QuantizeLinear (after the float stem) and no DequantizeLinear: every later tensor between nodes is uint8.
        Assert.Equal(["QuantizeLinear"], ops.Where(o => o.EndsWith("QuantizeLinear", StringComparison.Ordinal)));
        Assert.DoesNotContain(optimised.Graph.Node, n => n.OpType == "QuantizeLinear" && n.Input[0] == MiniXception.Input);
        Assert.Equal(2, result.Rewrites.Count);
    }

    [Fact]
    public void OptimisedGraph_IntegerStem_RunsAsSpaceToDepthQLinearConvAndNoFloatConv()
    {
        var model = MiniXception.Build(Size);
        var options = new QuantizerOptions { KeepSingleChannelConvFloat = false };
        var result = Quantizer.Quantize(_environment, model, CalibrationSet().Select(s => (IReadOnlyList<NamedTensor>)[s]), options);
        var optimised = Optimised(result.Model, "uint8-stem");
        var ops = optimised.Graph.Node.Select(n => n.OpType).ToList();

        Assert.Equal(9, ops.Count(o => o == "QLinearConv"));
        Assert.DoesNotContain("Conv", ops);
        Assert.Single(optimised.Graph.Node, n => n.OpType == "QuantizeLinear" && n.Input[0] == MiniXception.Input);
        // The stem (3×3 stride 2 on one channel) runs as a 2×2 stride-1 QLinearConv on 4 space-to-depth channels.
        var stem = optimised.Graph.Node.First(n => n.OpType == "QLinearConv");
        Assert.Equal([2L, 2L], stem.Attribute.Single(a => a.Name == "kernel_shape").Ints);
        Assert.Equal([1L, 1L], stem.Attribute.Single(a => a.Name == "strides").Ints);
        Assert.Equal(3, result.Rewrites.Count);
    }

    [Fact]
    public void OptimisedGraph_Float_HasNoQLinearOps()
    {
        // Control: the same check on the float model finds no integer kernels, so the assertion above means something.
        var optimised = Optimised(MiniXception.Build(Size), "fp32");
        Assert.DoesNotContain(optimised.Graph.Node, n => n.OpType.StartsWith("QLinear", StringComparison.Ordinal));
    }

    [Fact]
    public void Quantize_SameCalibrationTwice_ByteIdenticalModel()
    {
        var model = MiniXception.Build(Size);
        var samples = CalibrationSet().Select(s => (IReadOnlyList<NamedTensor>)[s]).ToList();
        var first = OnnxModel.ToBytes(Quantizer.Quantize(_environment, model, samples, new QuantizerOptions { Calibration = CalibrationMethod.Entropy }).Model);
        var second = OnnxModel.ToBytes(Quantizer.Quantize(_environment, model, samples, new QuantizerOptions { Calibration = CalibrationMethod.Entropy }).Model);
        Assert.Equal(first, second);
    }

    /// <summary>A MaxPool in the optimised graph runs on uint8 when no DequantizeLinear feeds it.</summary>
    private static bool IsUInt8MaxPool(ModelProto optimised, string opType)
    {
        var g = optimised.Graph;
        return g.Node.Where(n => n.OpType == opType)
            .All(pool => !g.Node.Any(p => p.OpType == "DequantizeLinear" && p.Output.Contains(pool.Input[0])));
    }
}
