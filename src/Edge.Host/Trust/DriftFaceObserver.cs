using Edge.Explain;
using Edge.Explain.Drift;
using Edge.Explain.Faces;
using Edge.Explain.Occlusion;
using Edge.Host.Pipeline;
using Edge.Onnx.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Host.Trust;

/// <summary>
/// Feeds each face to the <see cref="DriftMonitor"/> and, for a sampled share of explained faces, runs the occlusion
/// check with its own scorer session on the same model (so the analyzer's buffers are never touched).
/// </summary>
public sealed class DriftFaceObserver : IFaceObserver, IDisposable
{
    private readonly DriftMonitor _monitor;
    private readonly DriftOptions _options;
    private readonly FaceAnalyzerOptions _faces;
    private readonly OrtEnvironment _env;
    private readonly ILogger _logger;
    private readonly Random _random;
    private readonly float[] _crop = new float[FaceCrop.Size * FaceCrop.Size];
    private readonly float[] _probs = new float[Expressions.Count];
    private ExpressionScorer? _scorer;

    public DriftFaceObserver(DriftMonitor monitor, IOptions<DriftOptions> options, IOptions<FaceAnalyzerOptions> faces, OrtEnvironment env, ILogger<DriftFaceObserver> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(faces);
        (_monitor, _options, _faces, _env, _logger) = (monitor, options.Value, faces.Value, env, logger);
        _random = new Random(_options.Seed);
    }

    public void Observe(ReadOnlySpan<byte> rgb24, int width, int height, FaceResult face)
    {
        ArgumentNullException.ThrowIfNull(face);
        _monitor.Observe(face);
        if (face.Heatmaps.Count == 0 || _options.OcclusionSampleRate <= 0 || _random.NextDouble() >= _options.OcclusionSampleRate)
        {
            return;
        }

        try
        {
            var outcome = Check(rgb24, width, height, face);
            _monitor.RecordOcclusion(outcome.Disagrees);
        }
        catch (Exception e) when (e is OrtException or ArgumentException or InvalidDataException or IOException)
        {
            Log.OcclusionCheckFailed(_logger, e.Message);
        }
    }

    internal OcclusionOutcome Check(ReadOnlySpan<byte> rgb24, int width, int height, FaceResult face)
    {
        _scorer ??= new ExpressionScorer(_env, _faces.ResolvedScorerPath, new SessionSettings { IntraOpThreads = 1 });
        FaceCrop.Extract(rgb24, width, height, face.Box, _faces.CropMargin, _crop);
        var heatmap = face.Heatmaps[0];
        var target = Expressions.IndexOf(heatmap.TargetClass);
        return OcclusionCheck.Run(_crop, FaceCrop.Size, heatmap, target, _options.OcclusionPatch, _random, Score);

        float Score(float[] crop)
        {
            crop.CopyTo(_scorer!.Input);
            _scorer.Score(_probs);
            return _probs[target];
        }
    }

    public void Dispose() => _scorer?.Dispose();
}
