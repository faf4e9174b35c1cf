using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Edge.Explain;
using Edge.Explain.Explanations;
using Edge.Explain.Faces;
using Edge.Explain.Heatmaps;
using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Runtime;

namespace Edge.Host.Commands;

/// <summary><c>edge explain</c>: finds faces, scores them and writes LRP heatmaps and overlays.</summary>
internal static class ExplainCommand
{
    internal const string Usage = """
        usage: edge explain IMAGE_OR_FOLDER... --out DIR [--class NAME] [--mode reduced|full] [--precision int8|fp32] [--models DIR] [--json]
               edge explain verify FOLDER [--mode reduced|full] [--precision int8|fp32] [--models DIR] [--patch N] [--steps N]
               either also takes [--rule zplus|gamma|epsilon] [--add absolute|signed] [--projection direct|guided]
               (LRP rules; defaults: the kiosk's)
          --out        folder for <name>_<i>_heatmap.png and <name>_<i>_overlay.png (created)
          --class      explain this class (angry disgust fear happy sad surprise neutral); default happy and the top class
          --mode       reduced (default, the kiosk's cheap variant) or full LRP down to the pixels
          --precision  scoring model the explainer is compiled from (default int8 when built, else fp32)
          --rule       convolutions: zplus (default), gamma (γ = 0.25) or epsilon
          --add        residual Adds: absolute (default, |a| / (|a| + |b|)) or signed (a / (a + b))
          --projection reduced mode, from the last residual block to the input layer: direct (default, one step through
                       fixed path weights) or guided (a step per layer; closer to full LRP, about twice the cost)
          --json       one line per face and class: image, face, class, score, relevance_sum, conservation_error, bytes_encoded, mouth_share, mouth_is_densest
        Relevance starts at the class's pre-softmax logit; conservation_error = |sum of relevance - logit| / |logit|
        (biases and epsilon absorb some relevance, so it is not 0 on the real model). bytes_encoded is the wire size
        (heatmap codec v2). mouth_share is the share of the positive relevance in the mouth region: a box half the crop
        wide and 29 % of it tall (15 % of its area) centred on the detector's mouth keypoint; mouth_is_densest says
        whether the box of that size holding the most positive relevance, searched over the whole crop, contains the
        keypoint.
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length > 0 && args[0] is "-h" or "--help")
        {
            Console.Out.WriteLine(Usage);
            return 0;
        }

        if (args.Length > 0 && args[0] == "verify")
        {
            return await ExplainVerifyCommand.RunAsync(args[1..], cancellationToken).ConfigureAwait(false);
        }

        var parsed = ExplainArguments.Parse(args, "explain");
        if (parsed.Error is { } error)
        {
            Console.Error.WriteLine(error);
            return 2;
        }

        if (parsed.Out is null || parsed.Inputs.Count == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        int[] classes = parsed.Class is { } c ? [Expressions.IndexOf(c)] : [Expressions.IndexOf("happy"), FaceExplainer.TopClass];
        try
        {
            Directory.CreateDirectory(parsed.Out);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"edge explain: cannot create --out {parsed.Out}: {e.Message}");
            return 1;
        }

        ExplainPipeline pipeline;
        try
        {
            pipeline = ExplainPipeline.Create(parsed, classes.Length);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or DllNotFoundException or OrtException or NotSupportedException)
        {
            Console.Error.WriteLine($"edge explain: {e.Message}");
            return 1;
        }

        var failed = 0;
        using (pipeline)
        {
            var explainer = pipeline.Explainer;
            var scores = new float[Expressions.Count];
            var logits = new float[Expressions.Count];
            var maps = new float[classes.Length * explainer.MapPixels];
            foreach (var image in ScoreCommand.Expand(parsed.Inputs))
            {
                cancellationToken.ThrowIfCancellationRequested();
                IReadOnlyList<CroppedFace> crops;
                try
                {
                    crops = await pipeline.CropFacesAsync(image, cancellationToken).ConfigureAwait(false);
                }
                catch (InvalidDataException e)
                {
                    failed++;
                    Console.Error.WriteLine($"{image}: error: {e.Message}");
                    continue;
                }

                var stem = Path.GetFileNameWithoutExtension(image);
                for (var i = 0; i < crops.Count; i++)
                {
                    explainer.Explain(crops[i].Pixels, classes, scores, logits, maps);
                    var top = Array.IndexOf(scores, scores.Max());
                    var grey = crops[i].Pixels.Select(v => (v / 2f) + 0.5f).ToArray();
                    var mouth = MouthRegion.Around(crops[i].Mouth, explainer.Compiled.MapWidth);
                    for (var k = 0; k < classes.Length; k++)
                    {
                        var cls = classes[k] == FaceExplainer.TopClass ? top : classes[k];
                        if (k > 0 && cls == classes[0])
                        {
                            continue; // the top class is the class already explained
                        }

                        var map = maps.AsSpan(k * explainer.MapPixels, explainer.MapPixels).ToArray();
                        var suffix = k == 0 ? string.Empty : "_" + Expressions.Names[cls];
                        var (w, h) = (explainer.Compiled.MapWidth, explainer.Compiled.MapHeight);
                        try
                        {
                            await File.WriteAllBytesAsync(Path.Combine(parsed.Out, $"{stem}_{i}{suffix}_heatmap.png"), HeatmapImages.HeatmapPng(map, w, h), cancellationToken).ConfigureAwait(false);
                            await File.WriteAllBytesAsync(Path.Combine(parsed.Out, $"{stem}_{i}{suffix}_overlay.png"), HeatmapImages.OverlayPng(map, grey, w, h), cancellationToken).ConfigureAwait(false);
                        }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                        {
                            Console.Error.WriteLine($"edge explain: cannot write to {parsed.Out}: {e.Message}");
                            return 1;
                        }
                        var sum = map.Sum();
                        var encoded = HeatmapCodec.EncodeCompact(map, w, h);
                        var line = new ExplainLine(image, i, Expressions.Names[cls], MathF.Round(scores[cls], 4), MathF.Round(sum, 4),
                            MathF.Round(MathF.Abs(sum - logits[cls]) / MathF.Max(MathF.Abs(logits[cls]), 1e-6f), 4), encoded.Data.Length,
                            Math.Round(mouth.PositiveShare(map, w), 4), mouth.Densest(map, w).Contains(crops[i].Mouth));
                        if (parsed.Json)
                        {
                            Console.Out.WriteLine(JsonSerializer.Serialize(line, ExplainJsonContext.Default.ExplainLine));
                        }
                        else
                        {
                            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"{image} face {i} {line.Class,-8} score {line.Score,6:F3} logit {logits[cls],7:F2} relevance sum {line.RelevanceSum,8:F3} conservation error {line.ConservationError:P1} encoded {line.BytesEncoded} B ({encoded.Width}x{encoded.Height}) mouth share {line.MouthShare:P1}{(line.MouthIsDensest ? " (the densest box of its size)" : "")}"));
                        }
                    }
                }
            }
        }

        return failed > 0 ? 2 : 0;
    }
}

/// <summary>Options shared by <c>edge explain</c> and <c>edge explain verify</c>.</summary>
internal sealed class ExplainArguments
{
    public List<string> Inputs { get; } = [];

    public string? Out { get; private set; }

    public string? Class { get; private set; }

    public LrpMode Mode { get; private set; } = LrpMode.Reduced;

    public string? Precision { get; private set; }

    public string? Models { get; private set; }

    /// <summary>The LRP rules: the kiosk's defaults unless <c>--rule</c> or <c>--add</c> says otherwise.</summary>
    public LrpOptions Lrp { get; private set; } = new();

    public bool Json { get; private set; }

    public int Patch { get; private set; } = 8;

    public int Steps { get; private set; } = 16;

    public string? Error { get; private set; }

    public static ExplainArguments Parse(string[] args, string verb)
    {
        var a = new ExplainArguments();
        for (var i = 0; i < args.Length; i++)
        {
            var hasValue = i + 1 < args.Length;
            // The option's value, which must be one of allowed (else the error names them).
            string Choice(params string[] allowed)
            {
                var (option, value) = (args[i], args[++i]);
                if (!allowed.Contains(value))
                {
                    a.Error = $"edge {verb}: {option} must be {string.Join(", ", allowed[..^1])} or {allowed[^1]} (was '{value}')";
                }

                return value;
            }

            switch (args[i])
            {
                case "--out" when hasValue:
                    a.Out = args[++i];
                    break;
                case "--class" when hasValue:
                    a.Class = args[++i];
                    if (!Expressions.Names.Contains(a.Class, StringComparer.OrdinalIgnoreCase))
                    {
                        a.Error = $"edge {verb}: unknown class '{a.Class}'; expected one of {string.Join(", ", Expressions.Names)}";
                    }

                    break;
                case "--mode" when hasValue:
                    a.Mode = Choice("reduced", "full") == "full" ? LrpMode.Full : LrpMode.Reduced;
                    break;
                case "--precision" when hasValue:
                    a.Precision = Choice("int8", "fp32");
                    break;
                case "--models" when hasValue:
                    a.Models = args[++i];
                    break;
                case "--rule" when hasValue:
                    a.Lrp = a.Lrp with { ConvRule = Choice("zplus", "gamma", "epsilon") switch { "gamma" => LrpConvRule.Gamma, "epsilon" => LrpConvRule.Epsilon, _ => LrpConvRule.ZPlus } };
                    break;
                case "--add" when hasValue:
                    a.Lrp = a.Lrp with { AddRule = Choice("absolute", "signed") == "signed" ? LrpAddRule.Signed : LrpAddRule.Absolute };
                    break;
                case "--projection" when hasValue:
                    a.Lrp = a.Lrp with { Projection = Choice("direct", "guided") == "guided" ? LrpProjection.Guided : LrpProjection.Direct };
                    break;
                case "--patch" when hasValue:
                    var patch = args[++i];
                    if (int.TryParse(patch, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and <= 32)
                    {
                        a.Patch = p;
                    }
                    else
                    {
                        a.Error = $"edge {verb}: --patch must be a whole number from 1 to 32 (was '{patch}')";
                    }

                    break;
                case "--steps" when hasValue:
                    var steps = args[++i];
                    if (int.TryParse(steps, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
                    {
                        a.Steps = n;
                    }
                    else
                    {
                        a.Error = $"edge {verb}: --steps must be a whole number above 0 (was '{steps}')";
                    }

                    break;
                case "--json":
                    a.Json = true;
                    break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal))
                    {
                        a.Error = $"edge {verb}: unknown or incomplete option '{args[i]}'\n{ExplainCommand.Usage}";
                        return a;
                    }

                    a.Inputs.Add(args[i]);
                    break;
            }
        }

        return a;
    }
}

/// <summary>Detector + crop (from the face pipeline) and the compiled explainer, owned together.</summary>
internal sealed class ExplainPipeline : IDisposable
{
    private readonly OrtEnvironment _environment;
    private readonly FaceAnalyzer _analyzer;
    private readonly List<FaceResult> _faces = [];

    private ExplainPipeline(OrtEnvironment environment, FaceAnalyzer analyzer, FaceExplainer explainer, string scorerPath)
    {
        _environment = environment;
        _analyzer = analyzer;
        Explainer = explainer;
        ScorerPath = scorerPath;
    }

    public FaceExplainer Explainer { get; }

    public string ScorerPath { get; }

    public OrtEnvironment Environment => _environment;

    public FaceAnalyzerOptions Options => _analyzer.Options;

    public static ExplainPipeline Create(ExplainArguments args, int maps)
    {
        var options = new FaceAnalyzerOptions();
        if (args.Models is { } dir)
        {
            options.ModelDirectory = dir;
        }

        options.Precision = args.Precision == "fp32" ? ScoringPrecision.Fp32 : ScoringPrecision.Int8;
        if (args.Precision is null && !File.Exists(options.ResolvedScorerPath))
        {
            options.Precision = ScoringPrecision.Fp32;
            Console.Error.WriteLine($"edge explain: no int8 model at {options.ModelDirectory}; explaining fp32");
        }

        var environment = OrtEnvironment.Create();
        FaceAnalyzer? analyzer = null;
        try
        {
            analyzer = new FaceAnalyzer(options, environment);
            var explainer = FaceExplainer.Create(environment, OnnxModel.Load(options.ResolvedScorerPath), args.Lrp with { Mode = args.Mode }, maps);
            return new ExplainPipeline(environment, analyzer, explainer, options.ResolvedScorerPath);
        }
        catch
        {
            analyzer?.Dispose();
            environment.Dispose();
            throw;
        }
    }

    /// <summary>Detects faces and returns each face's normalised 64×64 crop and mouth keypoint in it, best detector score first.</summary>
    public async Task<IReadOnlyList<CroppedFace>> CropFacesAsync(string image, CancellationToken cancellationToken)
    {
        var decoded = await FfmpegImage.DecodeAsync(image, cancellationToken).ConfigureAwait(false);
        var n = _analyzer.Analyze(decoded.Rgb24, decoded.Width, decoded.Height, _faces);
        var crops = new List<CroppedFace>(n);
        var margin = _analyzer.Options.CropMargin;
        for (var i = 0; i < n; i++)
        {
            var crop = new float[FaceCrop.Size * FaceCrop.Size];
            FaceCrop.Extract(decoded.Rgb24, decoded.Width, decoded.Height, _faces[i].Box, margin, crop);
            crops.Add(new CroppedFace(crop, FaceCrop.ToCrop(_faces[i].Mouth, _faces[i].Box, margin)));
        }

        return crops;
    }

    public void Dispose()
    {
        Explainer.Dispose();
        _analyzer.Dispose();
        _environment.Dispose();
    }
}

/// <summary>A face's normalised 64×64 crop and the detector's mouth keypoint in crop pixels.</summary>
internal sealed record CroppedFace(float[] Pixels, FacePoint Mouth);

internal sealed record ExplainLine(
    [property: JsonPropertyName("image")] string Image,
    [property: JsonPropertyName("face")] int Face,
    [property: JsonPropertyName("class")] string Class,
    [property: JsonPropertyName("score")] float Score,
    [property: JsonPropertyName("relevance_sum")] float RelevanceSum,
    [property: JsonPropertyName("conservation_error")] float ConservationError,
    [property: JsonPropertyName("bytes_encoded")] int BytesEncoded,
    [property: JsonPropertyName("mouth_share")] double MouthShare,
    [property: JsonPropertyName("mouth_is_densest")] bool MouthIsDensest);

[JsonSerializable(typeof(ExplainLine))]
internal sealed partial class ExplainJsonContext : JsonSerializerContext;
