using System.Globalization;
using Edge.Onnx.Graph;
using Edge.Onnx.Models;
using Edge.Onnx.Proto;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Bench;

/// <summary>`quant`: the emotion model, int8 against fp32, on real face crops; then latency.</summary>
internal static class QuantBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static readonly HashSet<string> FirstConv = new(StringComparer.Ordinal) { "StatefulPartitionedCall/model_1/block1_conv1_act/Relu/conv" };

    /// <summary>The configurations compared; the first is <see cref="QuantizerOptions"/>' defaults.</summary>
    internal static IReadOnlyList<(string Name, QuantizerOptions Options)> Configurations { get; } =
    [
        ("uint8 defaults (percentile 99.99)", new QuantizerOptions()),
        ("uint8 min-max", new QuantizerOptions { Calibration = CalibrationMethod.MinMax }),
        ("uint8 percentile 99.999", new QuantizerOptions { Calibration = CalibrationMethod.Percentile, Percentile = 99.999 }),
        ("uint8 entropy", new QuantizerOptions { Calibration = CalibrationMethod.Entropy }),
        ("uint8 defaults, last conv float", new QuantizerOptions { KeepLastLayerFloat = true }),
        ("uint8 min-max, no equalization", new QuantizerOptions { Calibration = CalibrationMethod.MinMax, Equalize = false }),
        ("uint8 p99.99, no equalization", new QuantizerOptions { Calibration = CalibrationMethod.Percentile, Equalize = false }),
        ("uint8 entropy, no equalization", new QuantizerOptions { Calibration = CalibrationMethod.Entropy, Equalize = false }),
        ("uint8 defaults, first conv float", new QuantizerOptions { KeepFloatNodes = FirstConv }),
        ("uint8 defaults, bias correction", new QuantizerOptions { CorrectBias = true }),
        ("int8 symmetric, defaults", new QuantizerOptions { ActivationType = ActivationType.Int8 }),
    ];

    /// <summary>Calibration (and, when asked, equalization then calibration again) on some crops: what Quantize needs.</summary>
    internal static (ModelProto Model, CalibrationStatistics Statistics) Prepare(OrtEnvironment environment, ModelProto fp32, IReadOnlyList<NamedTensor> samples, bool equalize)
    {
        var statistics = Quantizer.Calibrate(environment, fp32, samples);
        if (!equalize)
        {
            return (fp32, statistics);
        }

        var equalized = Quantizer.Equalize(fp32, statistics);
        return (equalized.Model, Quantizer.Calibrate(environment, equalized.Model, samples));
    }

    /// <summary>The model Quantize writes for these options: bias-corrected first when the options ask for it.</summary>
    internal static ModelProto QuantizePrepared(OrtEnvironment environment, (ModelProto Model, CalibrationStatistics Statistics) prepared, IReadOnlyList<NamedTensor> samples, QuantizerOptions options)
    {
        var source = options.CorrectBias
            ? Quantizer.CorrectBias(environment, prepared.Model, prepared.Statistics, samples.Select(s => (IReadOnlyList<NamedTensor>)[s]).ToList(), options)
            : prepared.Model;
        return Quantizer.Quantize(source, prepared.Statistics, options).Model;
    }

    public static int Run(bool quick)
    {
        var artifacts = Path.Combine(FaceCrops.RepoRoot(), "artifacts", "bench");
        Directory.CreateDirectory(artifacts);
        var spec = ModelCatalog.Get(ModelCatalog.Emotion);
        var fp32Path = BuildFp32(artifacts, ModelCatalog.Emotion);
        var fp32 = OnnxModel.Load(fp32Path);
        var inputName = spec.Input.Name;

        var crops = FaceCrops.Load(variants: true);
        var images = crops.Select(c => c.Image).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var fold = crops.Select(c => images.IndexOf(c.Image) % 2).ToArray();
        Console.WriteLine($"real face crops: {crops.Count} ({images.Count} photos × {crops.Count / images.Count} variants: the fixture crop, side ×0.9/×1.1, mirrored)");
        Console.WriteLine("held-out: 2 folds by photo — each crop is scored by a model calibrated on the other photos only");

        using var environment = OrtEnvironment.Create();
        NamedTensor Tensor(FaceCrop c) => NamedTensor.FromFloat(inputName, c.Input, 1, 64, 64, 1);
        var expected = RunAll(environment, OnnxModel.ToBytes(fp32), crops.Select(Tensor).ToList());

        var prepared = new Dictionary<bool, (ModelProto Model, CalibrationStatistics Statistics)[]>();
        foreach (var equalize in new[] { false, true })
        {
            prepared[equalize] =
            [
                Prepare(environment, fp32, crops.Where((_, i) => fold[i] != 0).Select(Tensor).ToList(), equalize),
                Prepare(environment, fp32, crops.Where((_, i) => fold[i] != 1).Select(Tensor).ToList(), equalize),
                Prepare(environment, fp32, crops.Select(Tensor).ToList(), equalize),
            ];
        }

        var pairs = Quantizer.Equalize(fp32, prepared[false][2].Statistics).Pairs;
        Console.WriteLine($"equalized conv pairs: {pairs.Count} (largest ÷ smallest channel range, before → after)");
        foreach (var pair in pairs)
        {
            Console.WriteLine(string.Create(Inv, $"  {pair.Tensor,-70} {pair.RangeRatioBefore,9:F1} → {pair.RangeRatioAfter,6:F1}"));
        }

        Console.WriteLine();
        Console.WriteLine($"{"configuration",-42} {"held-out top-1",16} {"mean|Δhappy|",13} {"max|Δp|",8}   {"in-sample top-1",16} {"mean|Δhappy|",13}");
        var happy = spec.Classes.ToList().IndexOf("happy");
        var results = new List<(string Name, Agreement HeldOut, Agreement InSample)>();
        float[][]? heldOutDefault = null;
        foreach (var (name, options) in Configurations)
        {
            var heldOut = new float[crops.Count][];
            for (var f = 0; f < 2; f++)
            {
                var model = QuantizePrepared(environment, prepared[options.Equalize][f], crops.Where((_, i) => fold[i] != f).Select(Tensor).ToList(), options);
                var indices = Enumerable.Range(0, crops.Count).Where(i => fold[i] == f).ToList();
                var outputs = RunAll(environment, OnnxModel.ToBytes(model), indices.Select(i => Tensor(crops[i])).ToList());
                for (var j = 0; j < indices.Count; j++)
                {
                    heldOut[indices[j]] = outputs[j];
                }
            }

            var inSampleModel = QuantizePrepared(environment, prepared[options.Equalize][2], crops.Select(Tensor).ToList(), options);
            var inSample = RunAll(environment, OnnxModel.ToBytes(inSampleModel), crops.Select(Tensor).ToList());
            var a = Agreement.Compare(expected, heldOut, spec.Classes);
            var b = Agreement.Compare(expected, inSample, spec.Classes);
            results.Add((name, a, b));
            heldOutDefault ??= heldOut;
            Console.WriteLine(string.Create(Inv,
                $"{name,-42} {a.Top1Agreeing,4}/{a.Count} {a.Top1,7:P1} {a.Classes[happy].MeanAbsDelta,13:F4} {a.Classes.Max(c => c.MaxAbsDelta),8:F4}   {b.Top1Agreeing,4}/{b.Count} {b.Top1,7:P1} {b.Classes[happy].MeanAbsDelta,13:F4}"));
        }

        var (defaultName, defaultHeldOut, _) = results[0];
        Console.WriteLine();
        Console.WriteLine($"disagreements, {defaultName}, held-out (fp32 margin = top-1 minus top-2 probability):");
        foreach (var i in Enumerable.Range(0, crops.Count).Where(i => Agreement.ArgMax(expected[i]) != Agreement.ArgMax(heldOutDefault![i])))
        {
            var sorted = expected[i].OrderDescending().ToArray();
            Console.WriteLine(string.Create(Inv,
                $"  {crops[i].Image,-36} {crops[i].Variant,-14} fp32 {spec.Classes[Agreement.ArgMax(expected[i])],-8} → int8 {spec.Classes[Agreement.ArgMax(heldOutDefault![i])],-8} margin {sorted[0] - sorted[1]:F3}"));
        }

        Console.WriteLine();
        Console.WriteLine($"per class, {defaultName}, held-out (fp32 top-1 → int8 agrees; mean and max |Δp| of that class over all crops):");
        foreach (var c in defaultHeldOut.Classes)
        {
            Console.WriteLine(string.Create(Inv, $"  {c.Class,-9} {c.Agreeing,3}/{c.Fp32Top1,-3}  mean|Δ| {c.MeanAbsDelta:F4}  max|Δ| {c.MaxAbsDelta:F4}"));
        }

        // The models timed: calibrated on every crop, as `edge model build` would ship them.
        var uint8Path = Path.Combine(artifacts, "emotion.int8.onnx");
        var int8Path = Path.Combine(artifacts, "emotion.int8-s8s8.onnx");
        OnnxModel.Save(QuantizePrepared(environment, prepared[true][2], crops.Select(Tensor).ToList(), Configurations[0].Options), uint8Path);
        OnnxModel.Save(QuantizePrepared(environment, prepared[true][2], crops.Select(Tensor).ToList(), new QuantizerOptions { ActivationType = ActivationType.Int8 }), int8Path);
        PrintFusedOps(environment, uint8Path, artifacts);

        var input = crops[0].Input;
        ModelLatency.Models = new Dictionary<string, (string, float[])>(StringComparer.Ordinal)
        {
            [nameof(ModelLatency.Fp32)] = (fp32Path, input),
            [nameof(ModelLatency.Int8UInt8Activations)] = (uint8Path, input),
            [nameof(ModelLatency.Int8Int8Activations)] = (int8Path, input),
        };
        var medians = ModelLatency.Measure(Path.Combine(artifacts, "BenchmarkDotNet.Artifacts"), quick, invocations: 400);
        PrintRatios(medians, "BenchmarkDotNet medians from this run");
        PrintRatios(ModelLatency.Interleaved(quick ? 300 : 3000), "interleaved cross-check: models take turns, medians");
        return 0;
    }

    internal static string BuildFp32(string artifacts, string model)
    {
        var directory = Path.Combine(artifacts, "models");
        ModelBuilder.Build(new ModelBuildOptions { OutputDirectory = directory, SourceTarball = ModelPaths.SourceTarball, Models = [model] }, CancellationToken.None);
        return Path.Combine(directory, ModelCatalog.Get(model).FileName("fp32"));
    }

    internal static float[][] RunAll(OrtEnvironment environment, byte[] model, IReadOnlyList<NamedTensor> inputs, int output = 0)
    {
        using var session = environment.CreateSession(model, new SessionSettings { IntraOpThreads = 1 });
        return inputs.Select(i => session.Run(i)[output].AsFloat()).ToArray();
    }

    /// <summary>What ORT actually runs for the int8 model: op counts of its optimised graph.</summary>
    internal static void PrintFusedOps(OrtEnvironment environment, string model, string artifacts)
    {
        var optimised = Path.Combine(artifacts, Path.GetFileNameWithoutExtension(model) + ".ort-optimised.onnx");
        using (environment.CreateSession(model, new SessionSettings { IntraOpThreads = 1, OptimizedModelFilePath = optimised }))
        {
        }

        var ops = OnnxModel.Load(optimised).Graph.Node
            .GroupBy(n => n.OpType, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key} ×{g.Count()}");
        Console.WriteLine();
        Console.WriteLine($"ORT optimised graph of {Path.GetFileName(model)}: {string.Join(", ", ops)}");
    }

    internal static void PrintRatios(IReadOnlyDictionary<string, double> medians, string how)
    {
        if (!medians.TryGetValue(nameof(ModelLatency.Fp32), out var baseline))
        {
            Console.WriteLine("no fp32 measurement");
            return;
        }

        Console.WriteLine();
        Console.WriteLine($"latency, one ORT thread, batch 1 ({how}):");
        foreach (var (name, ms) in medians.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            Console.WriteLine(string.Create(Inv, $"  {name,-22} {ms,8:F3} ms   {ms / baseline,5:F2} × fp32"));
        }
    }
}
