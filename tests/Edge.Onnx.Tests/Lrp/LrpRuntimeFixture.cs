using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Tests.Lrp;

/// <summary>Scores, logits and the K maps of one explainer run.</summary>
internal sealed record LrpRun(float[] Scores, float[] Logits, float[] Map);

/// <summary>A real ONNX Runtime environment shared by the LRP tests; runs a compiled explainer once.</summary>
public sealed class LrpRuntimeFixture : IDisposable
{
    private readonly OrtEnvironment _env = OrtEnvironment.Create();

    internal LrpRun Run(LrpExplainer explainer, float[] input, float[] targets, int k)
    {
        using var session = _env.CreateSession(OnnxModel.ToBytes(explainer.Model), SessionSettings.Default);
        var outputs = session.Run(
            NamedTensor.FromFloat(explainer.Input, input, explainer.InputShape),
            NamedTensor.FromFloat(explainer.TargetInput, targets, k, explainer.Classes));
        float[] Get(string name) => outputs.Single(o => o.Name == name).AsFloat();
        return new LrpRun(Get(explainer.ScoreOutputs[0]), Get(explainer.LogitsOutput), Get(explainer.MapOutput));
    }

    public void Dispose() => _env.Dispose();
}
