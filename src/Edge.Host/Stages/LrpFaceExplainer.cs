using System.Numerics.Tensors;
using Edge.Explain;
using Edge.Explain.Explanations;
using Edge.Explain.Faces;
using Edge.Explain.Heatmaps;
using Edge.Host.Options;
using Edge.Host.Pipeline;
using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Runtime;
using Microsoft.Extensions.Options;

namespace Edge.Host.Stages;

/// <summary>
/// The pipeline's explainer seam over Edge.Explain's compiled LRP <see cref="FaceExplainer"/>: the explainer graph is
/// compiled from the same scoring model the analyzer runs, so the heatmap explains the model that scored the face.
/// Re-crops the face exactly as the analyzer does (<see cref="FaceCrop"/>); one map per run, written into an array the
/// face lends (<see cref="FaceResult.RentMap"/>, so a face explained frame after frame allocates no map); heatmaps go on the
/// wire with <see cref="HeatmapCodec.EncodeCompact"/> (codec v2: ≤ 1 KB at r ≥ 0.99; the audit store must know v2).
/// Single-threaded, like the pipeline.
/// </summary>
public sealed class LrpFaceExplainer : IFaceExplainer, IDisposable
{
    private readonly FaceExplainer _explainer;
    private readonly float _margin;
    private readonly float[] _crop = new float[FaceCrop.Size * FaceCrop.Size];
    private readonly float[] _scores = new float[Expressions.Count];
    private readonly float[] _logits = new float[Expressions.Count];
    private readonly int[] _classes = new int[1];

    public LrpFaceExplainer(OrtEnvironment environment, IOptions<FaceAnalyzerOptions> faces, IOptions<PipelineOptions> pipeline)
    {
        var options = faces.Value;
        _margin = options.CropMargin;
        var lrp = new LrpOptions { Mode = pipeline.Value.ExplainLrp, Projection = pipeline.Value.ExplainProjection };
        _explainer = FaceExplainer.Create(environment, OnnxModel.Load(options.ResolvedScorerPath), lrp, maps: 1,
            new SessionSettings { IntraOpThreads = options.IntraOpThreads });
    }

    public void Explain(ReadOnlySpan<byte> rgb24, int width, int height, FaceResult face, int targetClass, bool writeScores = false)
    {
        FaceCrop.Extract(rgb24, width, height, face.Box, _margin, _crop);
        _classes[0] = targetClass == IFaceExplainer.TopClass ? FaceExplainer.TopClass : targetClass;
        var map = face.RentMap(_explainer.MapPixels);
        _explainer.Explain(_crop, _classes, _scores, _logits, map);
        if (writeScores)
        {
            _scores.CopyTo(face.Scores, 0);
        }

        // The graph picks the top class by the logits; softmax keeps their order, so the top score names it.
        var explained = targetClass == IFaceExplainer.TopClass ? TensorPrimitives.IndexOfMax(_scores) : targetClass;
        face.Heatmaps.Add(new Edge.Explain.Heatmap(
            Expressions.Names[explained], _explainer.Compiled.MapWidth, _explainer.Compiled.MapHeight, map));
    }

    public Edge.Sync.Contract.Heatmap Encode(Edge.Explain.Heatmap heatmap)
    {
        var encoded = HeatmapCodec.EncodeCompact(heatmap.Relevance, heatmap.Width, heatmap.Height);
        return new Edge.Sync.Contract.Heatmap
        {
            TargetClass = heatmap.TargetClass,
            CodecVersion = (uint)encoded.CodecVersion,
            Width = (uint)encoded.Width,
            Height = (uint)encoded.Height,
            Scale = encoded.Scale,
            Data = Google.Protobuf.ByteString.CopyFrom(encoded.Data),
        };
    }

    public void Dispose() => _explainer.Dispose();
}
