using System.Globalization;
using Edge.Onnx.Graph;
using Edge.Onnx.Models;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Bench;

/// <summary>
/// `sensitivity`: which layer's quantization costs the emotion model most. For each weighted node, the model is
/// quantized with only that node kept in float; the drop in error (mean L1 distance of the 7 probabilities to fp32,
/// over every crop) is what quantizing that node costs. Calibrated and scored in-sample: a diagnostic, not a figure.
/// </summary>
internal static class SensitivityBench
{
    public static int Run(QuantizerOptions options)
    {
        var artifacts = Path.Combine(FaceCrops.RepoRoot(), "artifacts", "bench");
        var spec = ModelCatalog.Get(ModelCatalog.Emotion);
        var fp32 = OnnxModel.Load(QuantBench.BuildFp32(artifacts, ModelCatalog.Emotion));
        var crops = FaceCrops.Load(variants: true);
        using var environment = OrtEnvironment.Create();
        var inputs = crops.Select(c => NamedTensor.FromFloat(spec.Input.Name, c.Input, 1, 64, 64, 1)).ToList();
        var expected = QuantBench.RunAll(environment, OnnxModel.ToBytes(fp32), inputs);
        var (source, statistics) = QuantBench.Prepare(environment, fp32, inputs, options.Equalize, options.EqualizationStrength);

        double Error(QuantizerOptions o, out Agreement agreement)
        {
            var actual = QuantBench.RunAll(environment, OnnxModel.ToBytes(Quantizer.Quantize(source, statistics, o).Model), inputs);
            agreement = Agreement.Compare(expected, actual, spec.Classes);
            return expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => Math.Abs(x - y)).Sum()).Average();
        }

        var all = Error(options, out var baseline);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"all quantized: mean L1 {all:F4}, top-1 {baseline.Top1Agreeing}/{baseline.Count}"));
        foreach (var node in fp32.Graph.Node.Where(n => n.OpType is "Conv" or "Add" or "MaxPool" or "MatMul" or "Gemm"))
        {
            var keep = new HashSet<string>(options.KeepFloatNodes, StringComparer.Ordinal) { node.Name };
            var error = Error(options with { KeepFloatNodes = keep }, out var agreement);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  float {node.OpType,-8} {node.Name,-60} mean L1 {error:F4} ({error - all,8:+0.0000;-0.0000}) top-1 {agreement.Top1Agreeing}/{agreement.Count}"));
        }

        return 0;
    }
}
