using System.Globalization;
using Edge.Onnx.Graph;
using Edge.Onnx.Models;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Bench;

/// <summary>
/// `variants`: a few quantizer settings for speed (the defaults, the previous default, an integer stem, the depthwise
/// convs in float), each calibrated on every crop (in-sample agreement, a diagnostic), timed interleaved with fp32
/// (models take turns, medians).
/// </summary>
internal static class VariantsBench
{
    public static int Run(bool quick)
    {
        var artifacts = Path.Combine(FaceCrops.RepoRoot(), "artifacts", "bench");
        Directory.CreateDirectory(artifacts);
        var spec = ModelCatalog.Get(ModelCatalog.Emotion);
        var fp32Path = QuantBench.BuildFp32(artifacts, ModelCatalog.Emotion);
        var fp32 = OnnxModel.Load(fp32Path);
        var crops = FaceCrops.Load(variants: true);
        using var environment = OrtEnvironment.Create();
        var inputs = crops.Select(c => NamedTensor.FromFloat(spec.Input.Name, c.Input, 1, 64, 64, 1)).ToList();
        var expected = QuantBench.RunAll(environment, OnnxModel.ToBytes(fp32), inputs);
        var options = new QuantizerOptions();
        // The depthwise convs (group > 1): in float, between channels-last integer kernels.
        var depthwise = fp32.Graph.Node.Where(n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "group" && a.I > 1)).Select(n => n.Name);
        var variants = new (string Name, QuantizerOptions Options)[]
        {
            ("defaults", options),
            ("previous default", QuantBench.PreviousDefault),
            ("integer stem", options with { KeepSingleChannelConvFloat = false }),
            ("depthwise float", options with { KeepFloatNodes = new HashSet<string>(depthwise, StringComparer.Ordinal) }),
        };
        var models = new Dictionary<string, (string, float[])>(StringComparer.Ordinal) { ["Fp32"] = (fp32Path, crops[0].Input) };
        foreach (var (name, o) in variants)
        {
            var model = QuantBench.QuantizePrepared(environment, QuantBench.Prepare(environment, fp32, inputs, o.Equalize, o.EqualizationStrength), inputs, o);
            var path = Path.Combine(artifacts, $"emotion.variant-{name.Replace(' ', '-')}.onnx");
            OnnxModel.Save(model, path);
            var agreement = Agreement.Compare(expected, QuantBench.RunAll(environment, OnnxModel.ToBytes(model), inputs), spec.Classes);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-30} in-sample top-1 {agreement.Top1Agreeing}/{agreement.Count}"));
            QuantBench.PrintFusedOps(environment, path, artifacts);
            models[name] = (path, crops[0].Input);
        }

        ModelLatency.Models = models;
        QuantBench.PrintRatios(ModelLatency.Interleaved(quick ? 300 : 3000), "interleaved, models take turns, medians");
        return 0;
    }
}
