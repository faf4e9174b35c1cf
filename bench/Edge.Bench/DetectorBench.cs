using System.Globalization;
using Edge.Onnx.Graph;
using Edge.Onnx.Models;
using Edge.Onnx.Proto;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Bench;

/// <summary>
/// `detector`: blazeface-back, int8 against fp32 on the real photos of the reference fixture (held-out by photo, two
/// folds). Accurate means the best anchor is the same on ≥ 95 % of images and its score moves by ≤ 0.02; the
/// detector is worth quantizing only if it is also faster.
/// </summary>
internal static class DetectorBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static readonly (string Name, QuantizerOptions Options)[] Configurations =
    [
        ("uint8 defaults", new QuantizerOptions()),
        ("uint8 min-max, no equalization", new QuantizerOptions { Calibration = CalibrationMethod.MinMax, Equalize = false }),
        ("uint8 percentile 99.99", new QuantizerOptions { Calibration = CalibrationMethod.Percentile, Percentile = 99.99 }),
        ("uint8 defaults, output convs float", new QuantizerOptions { KeepLastLayerFloat = true }),
        ("int8 symmetric, defaults", new QuantizerOptions { ActivationType = ActivationType.Int8 }),
    ];

    public static int Run(bool quick)
    {
        var artifacts = Path.Combine(FaceCrops.RepoRoot(), "artifacts", "bench");
        Directory.CreateDirectory(artifacts);
        var spec = ModelCatalog.Get(ModelCatalog.BlazeFaceBack);
        var fp32Path = QuantBench.BuildFp32(artifacts, ModelCatalog.BlazeFaceBack);
        var fp32 = OnnxModel.Load(fp32Path);
        var size = (int)spec.Input.Shape[1];
        var images = FaceCrops.DetectorImages(size);
        NamedTensor Tensor(float[] input) => NamedTensor.FromFloat(spec.Input.Name, input, 1, size, size, 3);
        // A photo and its mirror are neighbours: fold by photo.
        var fold = images.Select((_, i) => i / 2 % 2).ToArray();
        Console.WriteLine($"real photos: {images.Count / 2} and their mirrors, {size}×{size}; held-out: 2 folds by photo");

        using var environment = OrtEnvironment.Create();
        var expected = Logits(environment, OnnxModel.ToBytes(fp32), images.Select(i => Tensor(i.Input)).ToList());
        var prepared = new Dictionary<bool, (ModelProto Model, CalibrationStatistics Statistics)[]>();
        foreach (var equalize in new[] { false, true })
        {
            prepared[equalize] =
            [
                QuantBench.Prepare(environment, fp32, images.Where((_, i) => fold[i] != 0).Select(i => Tensor(i.Input)).ToList(), equalize),
                QuantBench.Prepare(environment, fp32, images.Where((_, i) => fold[i] != 1).Select(i => Tensor(i.Input)).ToList(), equalize),
                QuantBench.Prepare(environment, fp32, images.Select(i => Tensor(i.Input)).ToList(), equalize),
            ];
        }

        Console.WriteLine();
        Console.WriteLine($"{"configuration",-36} {"best anchor same",17} {"mean|Δscore|",13} {"max|Δscore|",12} {"min logit",10}");
        var accurate = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (name, options) in Configurations)
        {
            var actual = new float[images.Count][];
            for (var f = 0; f < 2; f++)
            {
                var model = QuantBench.QuantizePrepared(environment, prepared[options.Equalize][f], images.Where((_, i) => fold[i] != f).Select(i => Tensor(i.Input)).ToList(), options);
                var indices = Enumerable.Range(0, images.Count).Where(i => fold[i] == f).ToList();
                var logits = Logits(environment, OnnxModel.ToBytes(model), indices.Select(i => Tensor(images[i].Input)).ToList());
                for (var j = 0; j < indices.Count; j++)
                {
                    actual[indices[j]] = logits[j];
                }
            }

            var same = 0;
            var deltas = new List<double>();
            for (var i = 0; i < images.Count; i++)
            {
                var best = Agreement.ArgMax(expected[i]);
                same += Agreement.ArgMax(actual[i]) == best ? 1 : 0;
                deltas.Add(Math.Abs(Sigmoid(actual[i][best]) - Sigmoid(expected[i][best])));
            }

            var ok = same >= 0.95 * images.Count && deltas.Average() <= 0.02;
            accurate[name] = ok;
            Console.WriteLine(string.Create(Inv,
                $"{name,-36} {same,4}/{images.Count} {(double)same / images.Count,7:P1} {deltas.Average(),13:F4} {deltas.Max(),12:F4} {actual.Min(a => a.Min()),10:F1}"));
        }

        var uint8Path = Path.Combine(artifacts, "blazeface-back.int8.onnx");
        var int8Path = Path.Combine(artifacts, "blazeface-back.int8-s8s8.onnx");
        var all = images.Select(i => Tensor(i.Input)).ToList();
        OnnxModel.Save(QuantBench.QuantizePrepared(environment, prepared[true][2], all, Configurations[0].Options), uint8Path);
        OnnxModel.Save(QuantBench.QuantizePrepared(environment, prepared[true][2], all, Configurations[^1].Options), int8Path);
        QuantBench.PrintFusedOps(environment, uint8Path, artifacts);

        ModelLatency.Models = new Dictionary<string, (string, float[])>(StringComparer.Ordinal)
        {
            [nameof(ModelLatency.Fp32)] = (fp32Path, images[0].Input),
            [nameof(ModelLatency.Int8UInt8Activations)] = (uint8Path, images[0].Input),
            [nameof(ModelLatency.Int8Int8Activations)] = (int8Path, images[0].Input),
        };
        var medians = ModelLatency.Measure(Path.Combine(artifacts, "BenchmarkDotNet.Artifacts"), quick, invocations: 24);
        QuantBench.PrintRatios(medians, "BenchmarkDotNet medians from this run");
        QuantBench.PrintRatios(ModelLatency.Interleaved(quick ? 20 : 100), "interleaved cross-check: models take turns, medians");

        var faster = medians.TryGetValue(nameof(ModelLatency.Fp32), out var fp32Ms)
            && medians.TryGetValue(nameof(ModelLatency.Int8UInt8Activations), out var int8Ms) && int8Ms < fp32Ms;
        var verdict = faster && accurate[Configurations[0].Name]
            ? "quantize blazeface-back (int8 is faster and accurate)"
            : $"keep blazeface-back fp32 ({(faster ? "faster" : "not faster")}, {(accurate[Configurations[0].Name] ? "accurate" : "not accurate")} with the default configuration)";
        Console.WriteLine();
        Console.WriteLine($"verdict: {verdict}");
        return 0;
    }

    private static double Sigmoid(float x) => 1 / (1 + Math.Exp(-x));

    /// <summary>The 896 score logits per image: the 16×16 grid's 512 then the 8×8 grid's 384.</summary>
    private static float[][] Logits(OrtEnvironment environment, byte[] model, IReadOnlyList<NamedTensor> inputs)
    {
        using var session = environment.CreateSession(model, new SessionSettings { IntraOpThreads = 1 });
        return inputs.Select(i =>
        {
            var outputs = session.Run([i], ["Identity", "Identity_1"], CancellationToken.None);
            return outputs[0].AsFloat().Concat(outputs[1].AsFloat()).ToArray();
        }).ToArray();
    }
}
