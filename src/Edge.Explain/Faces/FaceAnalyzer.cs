using System.Diagnostics;
using Edge.Onnx.Models;
using Edge.Onnx.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Explain.Faces;

/// <summary>Stopwatch ticks spent in each stage of the last <see cref="FaceAnalyzer.Analyze"/> call.</summary>
public readonly record struct FaceAnalyzerTimings(long DetectPrepare, long DetectInfer, long DetectDecode, long Crop, long Score)
{
    public static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>
/// Finds faces in an RGB24 frame and scores their expressions: BlazeFace → square crop with margin → 64×64
/// grey → emotion model. One instance per pipeline thread; after warm-up a call allocates nothing (buffers,
/// ORT values and the <see cref="FaceResult"/> objects are reused).
/// </summary>
public sealed class FaceAnalyzer : IDisposable
{
    private readonly FaceAnalyzerOptions _options;
    private readonly FaceDetector _detector;
    private readonly ExpressionScorer _scorer;
    private readonly FaceBox[] _boxes;
    private readonly float[] _scores;
    private readonly FacePoint[] _mouths;
    private readonly List<FaceResult> _pool = [];

    /// <param name="options">Models, precision, detector variant and thresholds (validated here too).</param>
    /// <param name="environment">The ORT environment.</param>
    /// <param name="logger">Optional logger.</param>
    /// <param name="sessionSettings">Providers, optimisation level and config entries (e.g. from section <c>Onnx</c>);
    /// <see cref="FaceAnalyzerOptions.IntraOpThreads"/> replaces its thread count. CPU, all optimisations when null.</param>
    public FaceAnalyzer(FaceAnalyzerOptions options, OrtEnvironment environment, ILogger<FaceAnalyzer>? logger = null, SessionSettings? sessionSettings = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var validation = new FaceAnalyzerOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new ArgumentException(validation.FailureMessage, nameof(options));
        }

        _options = options;
        var settings = (sessionSettings ?? SessionSettings.Default) with { IntraOpThreads = options.IntraOpThreads };
        _detector = new FaceDetector(environment, options.ResolvedDetectorPath, settings, options.MaxFaces);
        try
        {
            _scorer = new ExpressionScorer(environment, options.ResolvedScorerPath, settings);
        }
        catch
        {
            _detector.Dispose();
            throw;
        }

        _boxes = new FaceBox[options.MaxFaces];
        _scores = new float[options.MaxFaces];
        _mouths = new FacePoint[options.MaxFaces];
        for (var i = 0; i < options.MaxFaces; i++)
        {
            _pool.Add(new FaceResult());
        }

        var precision = options.Precision == ScoringPrecision.Int8 ? "int8" : "fp32";
        ModelId = $"{ModelCatalog.Emotion}-{precision}@{ModelSource.Version}";
        Log.AnalyzerReady(logger ?? (ILogger)NullLogger.Instance, ModelId, _scorer.ModelPath, _detector.ModelPath, _detector.InputSize);
    }

    /// <summary>Scoring model id as it goes into events, e.g. <c>emotion-int8@3.0.4</c>.</summary>
    public string ModelId { get; }

    /// <summary>SHA-256 (hex) of the scoring model that runs.</summary>
    public string ModelSha256 => _scorer.ModelSha256;

    public FaceAnalyzerOptions Options => _options;

    /// <summary>Per-stage time of the last call.</summary>
    public FaceAnalyzerTimings LastTimings { get; private set; }

    /// <summary>
    /// Clears <paramref name="results"/> and fills it with one <see cref="FaceResult"/> per face, best detector
    /// score first; returns the number of faces. The result objects belong to this analyzer and are reused by
    /// the next call. With <paramref name="score"/> false only the detector runs (boxes and detector scores; the
    /// expression scores are zero): for callers whose explainer run scores the face anyway.
    /// </summary>
    public int Analyze(ReadOnlySpan<byte> rgb24, int width, int height, List<FaceResult> results, bool score = true)
    {
        ArgumentNullException.ThrowIfNull(results);
        var t0 = Stopwatch.GetTimestamp();
        _detector.Prepare(rgb24, width, height);
        var t1 = Stopwatch.GetTimestamp();
        _detector.Infer();
        var t2 = Stopwatch.GetTimestamp();
        var n = _detector.Decode(width, height, _options.MinDetectorScore, _options.NmsIouThreshold, _options.NestedOverlapThreshold, _boxes, _scores, _mouths);
        var t3 = Stopwatch.GetTimestamp();
        results.Clear();
        long crop = 0, scoring = 0;
        for (var i = 0; i < n; i++)
        {
            var face = _pool[i];
            face.Box = _boxes[i];
            face.DetectorScore = _scores[i];
            face.Mouth = _mouths[i];
            face.ClearHeatmaps();
            results.Add(face);
            if (!score)
            {
                Array.Clear(face.Scores);
                continue;
            }

            var c0 = Stopwatch.GetTimestamp();
            FaceCrop.Extract(rgb24, width, height, face.Box, _options.CropMargin, _scorer.Input);
            var c1 = Stopwatch.GetTimestamp();
            _scorer.Score(face.Scores);
            var c2 = Stopwatch.GetTimestamp();
            crop += c1 - c0;
            scoring += c2 - c1;
        }

        LastTimings = new FaceAnalyzerTimings(t1 - t0, t2 - t1, t3 - t2, crop, scoring);
        return n;
    }

    public void Dispose()
    {
        _scorer.Dispose();
        _detector.Dispose();
    }
}
