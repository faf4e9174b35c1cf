using System.Globalization;
using Edge.Explain;
using Edge.Explain.Bias;
using Edge.Explain.Faces;
using Edge.Host.Trust;
using Edge.Onnx.Runtime;

namespace Edge.Host.Commands;

/// <summary><c>edge report bias</c>: per-group accuracy, happy-score mean and calibration error over a labelled evaluation set.</summary>
internal static class ReportBiasCommand
{
    internal const string Usage = """
        usage: edge report bias --labels FILE.csv [--out DIR] [--bootstrap N] [--seed N] [--min-group N]
                                [--precision fp32|int8] [--scorer MODEL.onnx]
          --labels     CSV: image,expression[,group columns…] (image paths relative to the CSV); the groups are the
                       columns you chose — nothing is inferred from a face
          --out        writes bias.json and bias.html there (default: print only)
          --bootstrap  resamples for the 95 % intervals (default 1000); --seed (default 1) makes them reproducible
          --min-group  fewer images than this in a group: warned as too few for a conclusion (default 30)
        Each image is run through the kiosk's face pipeline; the most confident face is scored.
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length == 0 || args[0] != "bias")
        {
            await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        string? labels = null, output = null;
        int bootstrap = 1000, seed = 1, minGroup = 30;
        var faces = new FaceAnalyzerOptions { Precision = ScoringPrecision.Fp32 };
        try
        {
            for (var i = 1; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--labels": labels = Next(); break;
                    case "--out": output = Next(); break;
                    case "--bootstrap": bootstrap = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--min-group": minGroup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--precision": faces.Precision = Enum.Parse<ScoringPrecision>(Next(), ignoreCase: true); break;
                    case "--scorer": faces.ScorerModelPath = Next(); break;
                    default: throw new ArgumentException($"unexpected argument '{args[i]}'");
                }
            }

            if (labels is null || bootstrap < 100 || minGroup < 1)
            {
                throw new ArgumentException("--labels is required; --bootstrap ≥ 100; --min-group ≥ 1");
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            await Console.Error.WriteLineAsync($"edge report bias: {e.Message}\n{Usage}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            var csv = LabelsCsv.Read(labels);
            using var env = OrtEnvironment.Create();
            using var analyzer = new FaceAnalyzer(faces, env);
            var samples = new List<BiasSample>();
            var results = new List<FaceResult>();
            var noFace = new List<string>();
            foreach (var row in csv.Rows)
            {
                var path = LabelsCsv.Resolve(labels, row.Image);
                var img = await FfmpegImage.DecodeAsync(path, cancellationToken).ConfigureAwait(false);
                if (analyzer.Analyze(img.Rgb24, img.Width, img.Height, results) == 0)
                {
                    noFace.Add(row.Image);
                    continue;
                }

                samples.Add(new BiasSample(row.Image, (float[])results[0].Scores.Clone(), row.Expression, row.Groups));
            }

            var report = BiasAnalysis.Compute(samples, csv.GroupColumns, $"{analyzer.ModelId} sha256 {analyzer.ModelSha256}", bootstrap, seed, minGroup);
            if (noFace.Count > 0)
            {
                report = report with { Warnings = [.. report.Warnings, $"{noFace.Count} image(s) had no detected face and are left out: {string.Join(", ", noFace)}"] };
            }

            Print(report);
            if (output is not null)
            {
                Directory.CreateDirectory(output);
                await File.WriteAllBytesAsync(Path.Combine(output, "bias.json"), report.ToJson(), cancellationToken).ConfigureAwait(false);
                await File.WriteAllTextAsync(Path.Combine(output, "bias.html"), BiasHtml.Render(report), cancellationToken).ConfigureAwait(false);
                Console.Out.WriteLine($"wrote {Path.Combine(output, "bias.json")} and {Path.Combine(output, "bias.html")}");
            }

            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or OrtException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"edge report bias: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    private static void Print(BiasReport r)
    {
        var o = r.Overall;
        Console.Out.WriteLine(FormattableString.Invariant($"overall: {o.Count} images, accuracy {o.Accuracy:P1}, happy mean {o.HappyMean:F3}, ECE {o.CalibrationError:F3}"));
        Console.Out.WriteLine(FormattableString.Invariant($"{"column",-10} {"group",-14} {"n",4}  {"accuracy",8} {"gap [95% CI]",-26} {"happy",6} {"gap [95% CI]",-26} {"ECE",6} {"gap [95% CI]",-26}"));
        foreach (var g in r.Groups)
        {
            Console.Out.WriteLine(FormattableString.Invariant(
                $"{g.Column,-10} {BiasAnalysis.Display(g.Value),-14} {g.Count,4}  {g.Accuracy.Value,8:P1} {Ci(g.Accuracy, g.TooFew),-26} {g.HappyMean.Value,6:F3} {Ci(g.HappyMean, g.TooFew),-26} {g.CalibrationError.Value,6:F3} {Ci(g.CalibrationError, g.TooFew),-26}{(g.TooFew ? " TOO FEW" : string.Empty)}"));
        }

        foreach (var w in r.Warnings)
        {
            Console.Out.WriteLine("warning: " + w);
        }
    }

    private static string Ci(Gap g, bool tooFew) => FormattableString.Invariant($"{g.GapToOverall:+0.000;-0.000} [{g.GapLow:+0.000;-0.000},{g.GapHigh:+0.000;-0.000}]{(g.Significant && !tooFew ? "*" : string.Empty)}");
}
