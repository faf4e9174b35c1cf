using Edge.Explain;
using Edge.Explain.Occlusion;
using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Runtime;

namespace Edge.Host.Trust;

/// <summary>
/// A heatmap for one crop from the LRP explainer compiled out of a scoring model (Edge.Onnx.Lrp, kiosk defaults),
/// for the commands that run the occlusion check outside the kiosk pipeline (replay) and for the check that an
/// adapted model still compiles.
/// </summary>
internal sealed class LrpHeatmapper : IDisposable
{
    private readonly OrtSession _session;
    private readonly LrpExplainer _explainer;

    public LrpHeatmapper(OrtEnvironment env, string scoringModelPath, LrpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(env);
        _explainer = LrpCompiler.Compile(ExplainerModels.WithoutTrailingIdentity(OnnxModel.Load(scoringModelPath)), options);
        _session = env.CreateSession(OnnxModel.ToBytes(_explainer.Model), new SessionSettings());
    }

    public LrpExplainer Explainer => _explainer;

    /// <summary>Relevance of the crop's top class (the explainer picks it inside the graph).</summary>
    public Heatmap Explain(float[] crop, out int target)
    {
        var outputs = _session.Run(
            [_explainer.LogitsOutput, _explainer.MapOutput],
            NamedTensor.FromFloat(_explainer.Input, crop, [.. _explainer.InputShape]),
            NamedTensor.FromFloat(_explainer.TargetInput, new float[_explainer.Classes], 1, _explainer.Classes));
        var logits = outputs[0].AsFloat();
        target = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[target])
            {
                target = i;
            }
        }

        return new Heatmap(Expressions.Names[target], _explainer.MapWidth, _explainer.MapHeight, outputs[1].AsFloat());
    }

    public void Dispose() => _session.Dispose();
}
