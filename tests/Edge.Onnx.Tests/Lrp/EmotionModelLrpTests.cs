using System.Diagnostics;
using System.Text.Json;
using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Models;
using Edge.Onnx.Proto;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Lrp;

/// <summary>The real emotion model (built from the pinned tarball) and real face crops (recipes in the TF.js fixture).</summary>
public sealed class EmotionModelFixture
{
    private readonly Lazy<ModelProto> _model = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), $"edge-lrp-tests-{Environment.ProcessId}");
        ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = dir, SourceTarball = TestPaths.SourceTarball, Models = [ModelCatalog.Emotion] }, CancellationToken.None);
        return OnnxModel.Load(Path.Combine(dir, "emotion.fp32.onnx"));
    });

    private readonly Lazy<IReadOnlyList<(string Image, float[] Crop)>> _crops = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tfjs-reference.json")));
        var list = new List<(string, float[])>();
        foreach (var c in doc.RootElement.GetProperty("crops").EnumerateArray())
        {
            var image = c.GetProperty("image").GetString()!;
            list.Add((image, Grey(Path.Combine(ModelPaths.FacesDirectory, image), c.GetProperty("filter").GetString()!)));
        }

        return list;
    });

    public ModelProto Model => _model.Value;

    public IReadOnlyList<(string Image, float[] Crop)> Crops => _crops.Value;

    private static float[] Grey(string path, string filter)
    {
        Assert.True(File.Exists(path), $"{path} is missing: run ./edge setup");
        var psi = new ProcessStartInfo("ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-vf", filter, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        using var ms = new MemoryStream();
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        Assert.True(p.ExitCode == 0 && ms.Length == 4096, err.Result);
        return [.. ms.ToArray().Select(g => ((g / 255f) - 0.5f) * 2f)];
    }
}

public sealed class EmotionModelLrpTests(LrpRuntimeFixture ort, EmotionModelFixture emotion) : IClassFixture<LrpRuntimeFixture>, IClassFixture<EmotionModelFixture>
{
    private const int Happy = 3;
    private static readonly int[] NhwcShape = [1, 64, 64, 1];

    private static LrpOptions Kiosk => new() { ConvRule = LrpConvRule.ZPlus, AddRule = LrpAddRule.Absolute, MaxPoolRule = LrpMaxPoolRule.Winner };

    [Theory]
    [InlineData(LrpMode.Full, 32, null, true, LrpProjection.Direct)]
    [InlineData(LrpMode.Reduced, 32, null, true, LrpProjection.Direct)]
    [InlineData(LrpMode.Reduced, 32, null, false, LrpProjection.Direct)]
    [InlineData(LrpMode.Reduced, 32, null, true, LrpProjection.Guided)]
    [InlineData(LrpMode.Reduced, 32, "StatefulPartitionedCall/model_1/add_1/add", true, LrpProjection.Guided)]
    [InlineData(LrpMode.Reduced, 0, "StatefulPartitionedCall/model_1/add_1/add", false, LrpProjection.Direct)]
    [InlineData(LrpMode.Reduced, 8, "StatefulPartitionedCall/model_1/add_1/add", false, LrpProjection.Guided)]
    public void Compile_EmotionModelOnAstronaut_MatchesReference(LrpMode mode, int channelBudget, string? stopAt, bool strideOne, LrpProjection projection)
    {
        var options = Kiosk with { Mode = mode, ChannelBudget = channelBudget == 0 ? null : channelBudget, Maps = 1, StopAt = stopAt, ProjectStrideOneWindows = strideOne, Projection = projection };
        var compiled = LrpCompiler.Compile(emotion.Model, options);
        var crop = emotion.Crops.Single(c => c.Image == "astronaut.png").Crop;
        var got = ort.Run(compiled, crop, LrpCompilerTests.OneHot(7, Happy), 1);
        var expected = new ReferenceLrp(emotion.Model, options with { StopAt = compiled.StoppedAt }).Explain(crop, NhwcShape, LrpCompilerTests.OneHot(7, Happy));
        var max = expected.Max(Math.Abs);
        var diff = expected.Zip(got.Map, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(diff <= 1e-4f * max, $"{mode} {projection} stop {compiled.StoppedAt}: max abs diff {diff} > 1e-4 × {max}");
        // The default stop is the last residual Add: only the top convolution runs exactly, so no pointwise layer to budget.
        Assert.Equal(mode == LrpMode.Reduced && stopAt is not null && channelBudget > 0, compiled.Model.Graph.Node.Any(n => n.OpType == "TopK"));
        Assert.Equal(mode == LrpMode.Reduced ? stopAt ?? "StatefulPartitionedCall/model_1/add_2/add" : null, compiled.StoppedAt);
        Assert.Equal((64, 64), (compiled.MapHeight, compiled.MapWidth));
        var read = compiled.Model.Graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        Assert.All(compiled.Model.Graph.Initializer, i => Assert.Contains(i.Name, read));
    }

    [Fact]
    public void Compile_Int8QdqModel_KeepsQuantizationNodesAndScores()
    {
        using var env = OrtEnvironment.Create();
        var samples = emotion.Crops.Take(12).Select(c => NamedTensor.FromFloat(emotion.Model.Graph.Input[0].Name, c.Crop, 1, 64, 64, 1));
        var int8 = Quantizer.Quantize(env, emotion.Model, samples.Select(s => (IReadOnlyList<NamedTensor>)[s]), new QuantizerOptions()).Model;
        var compiled = LrpCompiler.Compile(int8, Kiosk);
        int Count(ModelProto m, string op) => m.Graph.Node.Count(n => n.OpType == op);
        Assert.True(Count(int8, "QuantizeLinear") > 0);
        Assert.Equal(Count(int8, "QuantizeLinear"), Count(compiled.Model, "QuantizeLinear"));
        Assert.Equal(Count(int8, "DequantizeLinear"), Count(compiled.Model, "DequantizeLinear"));

        var crop = emotion.Crops.Single(c => c.Image == "astronaut.png").Crop;
        using var scoring = env.CreateSession(OnnxModel.ToBytes(int8), SessionSettings.Default);
        var expectedScores = scoring.Run(NamedTensor.FromFloat(int8.Graph.Input[0].Name, crop, 1, 64, 64, 1))[0].AsFloat();
        var run = ort.Run(compiled, crop, LrpCompilerTests.OneHot(7, Happy), 1);
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(expectedScores[i], run.Scores[i], 5);
        }

        var fp32 = ort.Run(LrpCompiler.Compile(emotion.Model, Kiosk), crop, LrpCompilerTests.OneHot(7, Happy), 1);
        var r = Pearson(run.Map, fp32.Map);
        Assert.True(r > 0.5, $"int8 map correlates {r} with the fp32 map");
    }

    private static double Pearson(float[] a, float[] b)
    {
        var ma = a.Average();
        var mb = b.Average();
        double sab = 0, saa = 0, sbb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }

        return sab / Math.Sqrt(saa * sbb);
    }
}
