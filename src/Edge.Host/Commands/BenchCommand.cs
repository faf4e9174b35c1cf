using System.Globalization;
using Edge.Explain;
using Edge.Explain.Faces;
using Edge.Onnx.Models;
using Edge.Onnx.Runtime;

namespace Edge.Host.Commands;

/// <summary><c>edge bench score</c>: per-stage latency of detection + scoring on a 640×480 frame with one face.</summary>
internal static class BenchCommand
{
    internal const string Usage = """
        usage: edge bench score [--precision int8|fp32] [--detector back|front] [--frames N] [--image PATH] [--models DIR]
          Letterboxes IMAGE (default the astronaut from ./edge setup) into a 640x480 frame, runs the face analyzer
          N times (default 1000, after 50 warm-up runs, one ORT thread) and prints p50/p99 per stage and the
          bytes allocated per frame.
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length == 0 || args[0] != "score")
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var options = new FaceAnalyzerOptions { Precision = ScoringPrecision.Int8 };
        var frames = 1000;
        var image = Path.Combine(ModelPaths.FacesDirectory, "astronaut.png");
        var precisionGiven = false;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--precision" when i + 1 < args.Length:
                    precisionGiven = true;
                    var p = args[++i];
                    if (p is not ("int8" or "fp32"))
                    {
                        Console.Error.WriteLine($"edge bench: --precision must be int8 or fp32 (was '{p}')");
                        return 2;
                    }

                    options.Precision = p == "int8" ? ScoringPrecision.Int8 : ScoringPrecision.Fp32;
                    break;
                case "--detector" when i + 1 < args.Length:
                    var d = args[++i];
                    if (d is not ("back" or "front"))
                    {
                        Console.Error.WriteLine($"edge bench: --detector must be back or front (was '{d}')");
                        return 2;
                    }

                    options.Detector = d == "back" ? DetectorVariant.Back : DetectorVariant.Front;
                    break;
                case "--frames" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var f) && f > 0:
                    frames = f;
                    i++;
                    break;
                case "--image" when i + 1 < args.Length:
                    image = args[++i];
                    break;
                case "--models" when i + 1 < args.Length:
                    options.ModelDirectory = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"edge bench: unexpected argument '{args[i]}'\n{Usage}");
                    return 2;
            }
        }

        if (!precisionGiven && !File.Exists(options.ResolvedScorerPath))
        {
            options.Precision = ScoringPrecision.Fp32;
            Console.Error.WriteLine($"edge bench: no int8 model at {options.ModelDirectory}; benchmarking fp32");
        }

        FfmpegImage.Decoded frame;
        try
        {
            frame = await FfmpegImage.DecodeAsync(
                image,
                "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2",
                (640, 480),
                cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"edge bench: {image}: {e.Message}");
            return 1;
        }

        using var environment = OrtEnvironment.Create();
        using var analyzer = new FaceAnalyzer(options, environment);
        var faces = new List<FaceResult>();
        for (var i = 0; i < 50; i++)
        {
            analyzer.Analyze(frame.Rgb24, frame.Width, frame.Height, faces);
        }

        if (faces.Count != 1)
        {
            Console.Error.WriteLine($"edge bench: expected one face in the benchmark frame, found {faces.Count}");
            return 1;
        }

        var stages = new double[6][];
        for (var s = 0; s < stages.Length; s++)
        {
            stages[s] = new double[frames];
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < frames; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            analyzer.Analyze(frame.Rgb24, frame.Width, frame.Height, faces);
            var t = analyzer.LastTimings;
            stages[0][i] = FaceAnalyzerTimings.Milliseconds(t.DetectPrepare);
            stages[1][i] = FaceAnalyzerTimings.Milliseconds(t.DetectInfer);
            stages[2][i] = FaceAnalyzerTimings.Milliseconds(t.DetectDecode);
            stages[3][i] = FaceAnalyzerTimings.Milliseconds(t.Crop);
            stages[4][i] = FaceAnalyzerTimings.Milliseconds(t.Score);
            stages[5][i] = FaceAnalyzerTimings.Milliseconds(t.DetectPrepare + t.DetectInfer + t.DetectDecode + t.Crop + t.Score);
        }

        var perFrame = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)frames;
        string[] names = ["detect: letterbox+resize", "detect: BlazeFace run", "detect: decode+NMS", "score: crop+grey", "score: emotion run", "total"];
        var o = Console.Out;
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"edge bench score: {frames} frames 640x480, 1 face, detector {options.Detector} ({Path.GetFileName(options.ResolvedDetectorPath)}), scorer {analyzer.ModelId}, 1 ORT thread"));
        o.WriteLine($"{"stage",-26} {"p50 ms",8} {"p99 ms",8} {"mean ms",8}");
        for (var s = 0; s < stages.Length; s++)
        {
            var sorted = stages[s].Order().ToArray();
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{names[s],-26} {Percentile(sorted, 0.50),8:0.000} {Percentile(sorted, 0.99),8:0.000} {sorted.Average(),8:0.000}"));
        }

        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocated per frame: {perFrame:0.#} bytes; face box {faces[0].Box}, happy {faces[0].Scores[3]:0.000}"));
        return 0;
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
