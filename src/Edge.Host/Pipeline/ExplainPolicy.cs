using Edge.Explain;
using Edge.Host.Options;

namespace Edge.Host.Pipeline;

/// <summary>Which faces get heatmaps and for which classes (Pipeline:Explain, ExplainEvery, ExplainTargets).</summary>
public sealed class ExplainPolicy(PipelineOptions options)
{
    private readonly int[] _fixedTargets = options.EffectiveTargets.Where(t => t != "top").Select(Expressions.IndexOf).ToArray();
    private readonly bool _top = options.EffectiveTargets.Contains("top");
    private long _faces;

    public ExplainMode Mode => options.Explain;

    /// <summary>The class an explainer run that also scores the face starts with: the top class when asked for, else the first one configured.</summary>
    public int FirstTarget => _top ? IFaceExplainer.TopClass : _fixedTargets[0];

    /// <summary>Call once per face, in order (Sampled counts faces).</summary>
    public bool ShouldExplain(bool flagged)
    {
        var n = _faces++;
        return options.Explain switch
        {
            ExplainMode.All => true,
            ExplainMode.Flagged => flagged,
            ExplainMode.Sampled => flagged || n % options.ExplainEvery == 0,
            _ => false,
        };
    }

    /// <summary>The classes to explain for a face: the configured ones, plus its top class if "top" is asked (no duplicates).</summary>
    public void Targets(FaceResult face, List<int> targets)
    {
        targets.Clear();
        if (_top)
        {
            var best = 0;
            for (var c = 1; c < Expressions.Count; c++)
            {
                if (face.Scores[c] > face.Scores[best])
                {
                    best = c;
                }
            }

            targets.Add(best);
        }

        foreach (var t in _fixedTargets)
        {
            if (!targets.Contains(t))
            {
                targets.Add(t);
            }
        }
    }
}
