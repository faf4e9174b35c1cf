using Edge.Explain;
using Edge.Explain.Faces;
using Edge.Host.Pipeline;

namespace Edge.Host.Stages;

/// <summary>
/// The pipeline's analyzer seam over Edge.Explain's <see cref="FaceAnalyzer"/> (BlazeFace + emotion scorer).
/// Also records the analyzer's own sub-stage times (detect, crop, score) in the stage histogram.
/// </summary>
public sealed class FaceAnalyzerAdapter(FaceAnalyzer analyzer, PipelineMetrics metrics) : IFaceAnalyzer
{
    public string ModelId => analyzer.ModelId;

    public string ModelSha256 => analyzer.ModelSha256;

    public int Analyze(ReadOnlySpan<byte> rgb24, int width, int height, List<FaceResult> results, bool score = true)
    {
        var n = analyzer.Analyze(rgb24, width, height, results, score);
        var t = analyzer.LastTimings;
        metrics.Stage("detect", Seconds(t.DetectPrepare + t.DetectInfer + t.DetectDecode));
        if (n > 0 && score)
        {
            metrics.Stage("crop", Seconds(t.Crop));
            metrics.Stage("score", Seconds(t.Score));
        }

        return n;
    }

    private static TimeSpan Seconds(long stopwatchTicks) => TimeSpan.FromSeconds(FaceAnalyzerTimings.Milliseconds(stopwatchTicks) / 1000);
}
