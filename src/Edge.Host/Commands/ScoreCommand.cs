using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Explain;
using Edge.Explain.Faces;
using Edge.Onnx.Runtime;

namespace Edge.Host.Commands;

/// <summary><c>edge score</c>: finds faces in images and prints their expression probabilities.</summary>
internal static class ScoreCommand
{
    internal const string Usage = """
        usage: edge score [--precision int8|fp32] [--detector back|front] [--models DIR] [--json] IMAGE_OR_FOLDER...
          --precision  scoring model (default int8 when emotion.int8.onnx is built, else fp32, said on stderr)
          --detector   BlazeFace variant (default back: 256x256; front: 128x128, for close-up faces)
          --models     folder written by `edge model build` (default $EDGE_MODELS, else ~/.cache/edge/models)
          --json       one JSON line per image instead of a table
        Folders are searched recursively for .jpg .jpeg .png .bmp .webp .gif .tif .tiff .ppm .pgm files.
        An unreadable image gets an error line; the others are still scored and the exit code is 2.
        """;

    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm",
    };

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new FaceAnalyzerOptions();
        var json = false;
        string? precision = null;
        var inputs = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json":
                    json = true;
                    break;
                case "--precision" when i + 1 < args.Length:
                    precision = args[++i];
                    break;
                case "--detector" when i + 1 < args.Length:
                    var d = args[++i];
                    if (d is not ("back" or "front"))
                    {
                        Console.Error.WriteLine($"edge score: --detector must be back or front (was '{d}')");
                        return 2;
                    }

                    options.Detector = d == "back" ? DetectorVariant.Back : DetectorVariant.Front;
                    break;
                case "--models" when i + 1 < args.Length:
                    options.ModelDirectory = args[++i];
                    break;
                case "-h" or "--help":
                    Console.Out.WriteLine(Usage);
                    return 0;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal))
                    {
                        Console.Error.WriteLine($"edge score: unknown option '{args[i]}'\n{Usage}");
                        return 2;
                    }

                    inputs.Add(args[i]);
                    break;
            }
        }

        if (inputs.Count == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        switch (precision)
        {
            case "int8":
                options.Precision = ScoringPrecision.Int8;
                break;
            case "fp32":
                options.Precision = ScoringPrecision.Fp32;
                break;
            case null:
                options.Precision = ScoringPrecision.Int8;
                if (!File.Exists(options.ResolvedScorerPath))
                {
                    options.Precision = ScoringPrecision.Fp32;
                    Console.Error.WriteLine($"edge score: no int8 model at {options.ModelDirectory}; scoring with fp32");
                }

                break;
            default:
                Console.Error.WriteLine($"edge score: --precision must be int8 or fp32 (was '{precision}')");
                return 2;
        }

        OrtEnvironment environment;
        try
        {
            environment = OrtEnvironment.Create();
        }
        catch (DllNotFoundException e)
        {
            Console.Error.WriteLine($"edge score: {e.Message}");
            return 1;
        }

        using var _ = environment;
        FaceAnalyzer analyzer;
        try
        {
            analyzer = new FaceAnalyzer(options, environment);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or OrtException)
        {
            Console.Error.WriteLine($"edge score: {e.Message}");
            return 1;
        }

        var failed = 0;
        var faces = new List<FaceResult>();
        using (analyzer)
        {
            foreach (var image in Expand(inputs))
            {
                cancellationToken.ThrowIfCancellationRequested();
                FfmpegImage.Decoded decoded;
                try
                {
                    decoded = await FfmpegImage.DecodeAsync(image, cancellationToken).ConfigureAwait(false);
                }
                catch (InvalidDataException e)
                {
                    failed++;
                    if (json)
                    {
                        Console.Out.WriteLine(JsonSerializer.Serialize(new ScoreError(image, e.Message), ScoreJsonContext.Default.ScoreError));
                    }
                    else
                    {
                        Console.Error.WriteLine($"{image}: error: {e.Message}");
                    }

                    continue;
                }

                var n = analyzer.Analyze(decoded.Rgb24, decoded.Width, decoded.Height, faces);
                if (json)
                {
                    var line = new ScoreLine(image, decoded.Width, decoded.Height, [.. faces.Take(n).Select(ToJson)]);
                    Console.Out.WriteLine(JsonSerializer.Serialize(line, ScoreJsonContext.Default.ScoreLine));
                }
                else
                {
                    WriteTable(image, decoded.Width, decoded.Height, faces, n, analyzer.ModelId);
                }
            }
        }

        return failed > 0 ? 2 : 0;
    }

    /// <summary>Files as given; folders expanded to their image files, recursively, in ordinal order. Missing paths stay in so they are reported.</summary>
    internal static IEnumerable<string> Expand(IEnumerable<string> inputs)
    {
        foreach (var input in inputs)
        {
            var images = Directory.Exists(input)
                ? [.. Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories).Where(f => ImageExtensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal)]
                : Array.Empty<string>();

            // A file, or a folder without images: the caller's decode reports it ("a folder with no images in it").
            foreach (var f in images.Length > 0 ? images : [input])
            {
                yield return f;
            }
        }
    }

    private static ScoreFace ToJson(FaceResult f)
    {
        var s = f.Scores;
        return new ScoreFace(
            [Round(f.Box.X1, 1), Round(f.Box.Y1, 1), Round(f.Box.X2, 1), Round(f.Box.Y2, 1)],
            Round(f.DetectorScore, 4),
            new ScoreExpressions(Round(s[0], 4), Round(s[1], 4), Round(s[2], 4), Round(s[3], 4), Round(s[4], 4), Round(s[5], 4), Round(s[6], 4)));
    }

    private static float Round(float v, int digits) => MathF.Round(v, digits);

    private static void WriteTable(string image, int width, int height, List<FaceResult> faces, int n, string modelId)
    {
        var o = Console.Out;
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{image}  {width}x{height}  {n} face{(n == 1 ? string.Empty : "s")}  ({modelId})"));
        if (n == 0)
        {
            return;
        }

        o.WriteLine("  #  box (x1,y1,x2,y2)          det    " + string.Join(" ", Expressions.Names.Select(name => name.PadLeft(8))) + "  top");
        for (var i = 0; i < n; i++)
        {
            var f = faces[i];
            var box = string.Create(CultureInfo.InvariantCulture, $"{f.Box.X1:0},{f.Box.Y1:0},{f.Box.X2:0},{f.Box.Y2:0}");
            var top = 0;
            for (var k = 1; k < Expressions.Count; k++)
            {
                top = f.Scores[k] > f.Scores[top] ? k : top;
            }

            var scores = string.Join(" ", f.Scores.Select(v => v.ToString("0.000", CultureInfo.InvariantCulture).PadLeft(8)));
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {i + 1,-2} {box,-26} {f.DetectorScore,5:0.00}  {scores}  {Expressions.Names[top]}"));
        }
    }
}

internal sealed record ScoreExpressions(float Angry, float Disgust, float Fear, float Happy, float Sad, float Surprise, float Neutral);

internal sealed record ScoreFace(float[] Box, float Detector, ScoreExpressions Expressions);

internal sealed record ScoreLine(string Image, int Width, int Height, ScoreFace[] Faces);

internal sealed record ScoreError(string Image, string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ScoreLine))]
[JsonSerializable(typeof(ScoreError))]
internal sealed partial class ScoreJsonContext : JsonSerializerContext;
