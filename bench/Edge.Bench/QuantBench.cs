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

    /// <summary>The default before issue #3's work: integer stem, no layout rewrites, percentile 99.99, α 0.5 equalization.</summary>
    internal static QuantizerOptions PreviousDefault { get; } =
        new() { KeepSingleChannelConvFloat = false, RewriteForIntegerKernels = false, Percentile = 99.99, EqualizationStrength = 0.5f, CorrectBias = false };

    /// <summary>The configurations compared; the first is <see cref="QuantizerOptions"/>' defaults, each other changes one setting.</summary>
    internal static IReadOnlyList<(string Name, QuantizerOptions Options)> Configurations { get; } =
    [
        ("defaults (float stem, rewrites, p99.999, α .75, bc)", new QuantizerOptions()),
        ("previous default (int8 stem, no rewrites, p99.99, α .5)", PreviousDefault),
        ("integer stem (space-to-depth)", new QuantizerOptions { KeepSingleChannelConvFloat = false }),
        ("no layout rewrites", new QuantizerOptions { RewriteForIntegerKernels = false }),
        ("percentile 99.99", new QuantizerOptions { Percentile = 99.99 }),
        ("percentile 99.9999", new QuantizerOptions { Percentile = 99.9999 }),
        ("entropy", new QuantizerOptions { Calibration = CalibrationMethod.Entropy }),
        ("min-max", new QuantizerOptions { Calibration = CalibrationMethod.MinMax }),
        ("equalization α 0.5", new QuantizerOptions { EqualizationStrength = 0.5f }),
        ("equalization α 1", new QuantizerOptions { EqualizationStrength = 1f }),
        ("no equalization", new QuantizerOptions { Equalize = false }),
        ("no bias correction", new QuantizerOptions { CorrectBias = false }),
        ("last conv float (no pooled head)", new QuantizerOptions { KeepLastLayerFloat = true }),
        ("int8 symmetric activations", new QuantizerOptions { ActivationType = ActivationType.Int8 }),
    ];

    /// <summary>Calibration (and, when asked, equalization then calibration again) on some crops: what Quantize needs.</summary>
    internal static (ModelProto Model, CalibrationStatistics Statistics) Prepare(OrtEnvironment environment, ModelProto fp32, IReadOnlyList<NamedTensor> samples, bool equalize, float strength = 0.75f)
    {
        var statistics = Quantizer.Calibrate(environment, fp32, samples);
        if (!equalize)
        {
            return (fp32, statistics);
        }

        var equalized = Quantizer.Equalize(fp32, statistics, strength);
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

    /// <summary>
    /// Photo → fold for each split. With two folds, split 0 is the reported one (photo index parity, ordinal order) and
    /// further splits shuffle the photos with the split number as seed, to show how much a figure moves with the split
    /// alone. With one fold per photo (leave one photo out) there is one split: each photo's crops are scored by a model
    /// calibrated on all the other photos, as a model calibrated on the whole set would meet a new face.
    /// </summary>
    private static int[][] Folds(IReadOnlyList<FaceCrop> crops, List<string> images, int splits, bool perPhoto) =>
        perPhoto
            ? [[.. crops.Select(c => images.IndexOf(c.Image))]]
            : [.. Enumerable.Range(0, splits).Select(split =>
            {
                var random = new Random(split);
                var order = split == 0 ? [.. images] : images.OrderBy(_ => random.Next()).ToList();
                return crops.Select(c => order.IndexOf(c.Image) % 2).ToArray();
            })];

    public static int Run(bool quick, int splits, bool perPhoto, IReadOnlyList<string> only)
    {
        var artifacts = Path.Combine(FaceCrops.RepoRoot(), "artifacts", "bench");
        Directory.CreateDirectory(artifacts);
        var spec = ModelCatalog.Get(ModelCatalog.Emotion);
        var fp32Path = BuildFp32(artifacts, ModelCatalog.Emotion);
        var fp32 = OnnxModel.Load(fp32Path);
        var inputName = spec.Input.Name;

        var crops = FaceCrops.Load(variants: true);
        var images = crops.Select(c => c.Image).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        splits = perPhoto ? 1 : splits;
        var folds = Folds(crops, images, splits, perPhoto);
        var foldCount = perPhoto ? images.Count : 2;
        Console.WriteLine($"real face crops: {crops.Count} ({images.Count} photos × {crops.Count / images.Count} variants: the fixture crop, side ×0.9/×1.1, mirrored)");
        Console.WriteLine(perPhoto
            ? $"held-out: leave one photo out ({foldCount} folds) — each crop is scored by a model calibrated on the {images.Count - 1} other photos"
            : "held-out: 2 folds by photo — each crop is scored by a model calibrated on the other photos only");
        if (splits > 1)
        {
            Console.WriteLine($"{splits} splits of the photos into 2 folds: split 0 is the reported one (photo parity), the others are shuffles (seed = split)");
        }

        using var environment = OrtEnvironment.Create();
        NamedTensor Tensor(FaceCrop c) => NamedTensor.FromFloat(inputName, c.Input, 1, 64, 64, 1);
        var all = crops.Select(Tensor).ToList();
        var expected = RunAll(environment, OnnxModel.ToBytes(fp32), all);
        var margins = expected.Select(e => { var sorted = e.OrderDescending().ToArray(); return sorted[0] - sorted[1]; }).ToList();
        Console.WriteLine(string.Create(Inv, $"fp32 top-1 margins (top-1 minus top-2 probability): {margins.Count(m => m < 0.02)} crops below 0.02, {margins.Count(m => m < 0.05)} below 0.05, {margins.Count(m => m < 0.1)} below 0.1"));

        // Calibration (and equalization) per split, fold and equalization setting, shared by the configurations.
        var prepared = new Dictionary<(int Split, int Fold, bool Equalize, float Strength), (ModelProto Model, CalibrationStatistics Statistics)>();
        List<NamedTensor> Calibration(int split, int fold) => fold < 0 ? all : [.. all.Where((_, i) => folds[split][i] != fold)];
        (ModelProto, CalibrationStatistics) Prepared(int split, int fold, QuantizerOptions o)
        {
            var key = (split, fold, o.Equalize, o.Equalize ? o.EqualizationStrength : 0f);
            if (!prepared.TryGetValue(key, out var p))
            {
                prepared[key] = p = Prepare(environment, fp32, Calibration(split, fold), o.Equalize, o.EqualizationStrength);
            }

            return p;
        }

        var pairs = Quantizer.Equalize(fp32, Quantizer.Calibrate(environment, fp32, all), new QuantizerOptions().EqualizationStrength).Pairs;
        Console.WriteLine($"equalized conv pairs (defaults): {pairs.Count} (largest ÷ smallest channel range, before → after)");
        foreach (var pair in pairs)
        {
            Console.WriteLine(string.Create(Inv, $"  {pair.Tensor,-70} {pair.RangeRatioBefore,9:F1} → {pair.RangeRatioAfter,6:F1}"));
        }

        Console.WriteLine();
        Console.WriteLine(splits == 1
            ? $"{"configuration",-56} {"held-out top-1",16} {"mean|Δhappy|",13} {"max|Δp|",8}   {"in-sample top-1",16} {"mean|Δhappy|",13}"
            : $"{"configuration",-56} {"held-out top-1, mean and per split",40} {"mean|Δhappy|",13} {"mean L1",8}");
        var happy = spec.Classes.ToList().IndexOf("happy");
        var results = new List<(string Name, Agreement HeldOut)>();
        float[][]? heldOutDefault = null;
        foreach (var (name, options) in Configurations.Where((c, i) => i == 0 || only.Count == 0 || only.Any(o => c.Name.StartsWith(o, StringComparison.Ordinal))))
        {
            var perSplit = new List<(Agreement Agreement, double L1)>();
            for (var split = 0; split < splits; split++)
            {
                var heldOut = new float[crops.Count][];
                for (var f = 0; f < foldCount; f++)
                {
                    var model = QuantizePrepared(environment, Prepared(split, f, options), Calibration(split, f), options);
                    var indices = Enumerable.Range(0, crops.Count).Where(i => folds[split][i] == f).ToList();
                    var outputs = RunAll(environment, OnnxModel.ToBytes(model), indices.Select(i => all[i]).ToList());
                    for (var j = 0; j < indices.Count; j++)
                    {
                        heldOut[indices[j]] = outputs[j];
                    }
                }

                perSplit.Add((Agreement.Compare(expected, heldOut, spec.Classes), expected.Zip(heldOut, (e, x) => e.Zip(x, (p, q) => Math.Abs(p - q)).Sum()).Average()));
                if (split == 0)
                {
                    heldOutDefault ??= heldOut;
                }
            }

            var a = perSplit[0].Agreement;
            results.Add((name, a));
            if (splits == 1)
            {
                var inSampleModel = QuantizePrepared(environment, Prepared(0, -1, options), all, options);
                var b = Agreement.Compare(expected, RunAll(environment, OnnxModel.ToBytes(inSampleModel), all), spec.Classes);
                Console.WriteLine(string.Create(Inv,
                    $"{name,-56} {a.Top1Agreeing,4}/{a.Count} {a.Top1,7:P1} {a.Classes[happy].MeanAbsDelta,13:F4} {a.Classes.Max(c => c.MaxAbsDelta),8:F4}   {b.Top1Agreeing,4}/{b.Count} {b.Top1,7:P1} {b.Classes[happy].MeanAbsDelta,13:F4}"));
            }
            else
            {
                var counts = string.Join(" ", perSplit.Select(x => x.Agreement.Top1Agreeing));
                Console.WriteLine(string.Create(Inv,
                    $"{name,-56} {perSplit.Average(x => x.Agreement.Top1Agreeing),6:F1}/{a.Count} [{counts}]{new string(' ', Math.Max(0, 28 - counts.Length))} {perSplit.Average(x => x.Agreement.Classes[happy].MeanAbsDelta),13:F4} {perSplit.Average(x => x.L1),8:F4}"));
            }
        }

        var (defaultName, defaultHeldOut) = results[0];
        var which = perPhoto ? "leave one photo out" : "split 0";
        Console.WriteLine();
        Console.WriteLine($"disagreements, {defaultName}, held-out ({which}; fp32 margin = top-1 minus top-2 probability):");
        foreach (var i in Enumerable.Range(0, crops.Count).Where(i => Agreement.ArgMax(expected[i]) != Agreement.ArgMax(heldOutDefault![i])))
        {
            Console.WriteLine(string.Create(Inv,
                $"  {crops[i].Image,-36} {crops[i].Variant,-14} fp32 {spec.Classes[Agreement.ArgMax(expected[i])],-8} → int8 {spec.Classes[Agreement.ArgMax(heldOutDefault![i])],-8} margin {margins[i]:F3}"));
        }

        Console.WriteLine();
        Console.WriteLine($"per class, {defaultName}, held-out ({which}; fp32 top-1 → int8 agrees; mean and max |Δp| of that class over all crops):");
        foreach (var c in defaultHeldOut.Classes)
        {
            Console.WriteLine(string.Create(Inv, $"  {c.Class,-9} {c.Agreeing,3}/{c.Fp32Top1,-3}  mean|Δ| {c.MeanAbsDelta:F4}  max|Δ| {c.MaxAbsDelta:F4}"));
        }

        if (splits > 1 || perPhoto)
        {
            return 0;
        }

        // The models timed: calibrated on every crop, as `edge model build` would ship them.
        var uint8Path = Path.Combine(artifacts, "emotion.int8.onnx");
        var previousPath = Path.Combine(artifacts, "emotion.int8-previous.onnx");
        var int8Path = Path.Combine(artifacts, "emotion.int8-s8s8.onnx");
        var int8Options = new QuantizerOptions { ActivationType = ActivationType.Int8 };
        OnnxModel.Save(QuantizePrepared(environment, Prepared(0, -1, Configurations[0].Options), all, Configurations[0].Options), uint8Path);
        OnnxModel.Save(QuantizePrepared(environment, Prepared(0, -1, PreviousDefault), all, PreviousDefault), previousPath);
        OnnxModel.Save(QuantizePrepared(environment, Prepared(0, -1, int8Options), all, int8Options), int8Path);
        PrintFusedOps(environment, uint8Path, artifacts);
        PrintFusedOps(environment, previousPath, artifacts);

        var input = crops[0].Input;
        ModelLatency.Models = new Dictionary<string, (string, float[])>(StringComparer.Ordinal)
        {
            [nameof(ModelLatency.Fp32)] = (fp32Path, input),
            [nameof(ModelLatency.Int8UInt8Activations)] = (uint8Path, input),
            [nameof(ModelLatency.Int8PreviousDefault)] = (previousPath, input),
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
