using Edge.Explain;
using Microsoft.Extensions.Options;

namespace Edge.Host.Options;

/// <summary>The scoring pipeline between camera and sync (section <c>Pipeline</c>).</summary>
public sealed class PipelineOptions
{
    public const string SectionName = "Pipeline";

    /// <summary>A frame older than this when the pipeline gets to it is skipped (counted, reason "stale"). 50 ms–1 min, default 1 s.</summary>
    public TimeSpan MaxFrameAge { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Which faces get a heatmap: None, All, Flagged, or Sampled (every <see cref="ExplainEvery"/>th face plus every flagged one). Default Flagged.</summary>
    public ExplainMode Explain { get; set; } = ExplainMode.Flagged;

    /// <summary>LRP variant: Reduced (default: exact rules to an intermediate layer, then a cheap projection) or Full.</summary>
    public Edge.Onnx.Lrp.LrpMode ExplainLrp { get; set; } = Edge.Onnx.Lrp.LrpMode.Reduced;

    /// <summary>
    /// Reduced LRP's way from the last residual block to the pixels: Direct (default, one step through fixed path
    /// weights, ≈ 1.3–1.5× the scoring run) or Guided (a step per layer: closer to full LRP, ≈ 1.6–2.1×).
    /// </summary>
    public Edge.Onnx.Lrp.LrpProjection ExplainProjection { get; set; } = Edge.Onnx.Lrp.LrpProjection.Direct;

    /// <summary>For <see cref="ExplainMode.Sampled"/>: explain one face in N. 1–10000, default 10.</summary>
    public int ExplainEvery { get; set; } = 10;

    /// <summary>Classes to explain: expression names, or "top" for the face's highest score. Default ["top"].</summary>
    public List<string> ExplainTargets { get; set; } = [];

    /// <summary>Faces the hand-over to sync may hold before the pipeline waits (and the camera drops frames). 1–10000, default 256.</summary>
    public int EventQueueCapacity { get; set; } = 256;

    /// <summary>A face box matched to one in an earlier frame (IoU ≥ this) continues that face's track. 0.05–0.95, default 0.3.</summary>
    public double TrackIou { get; set; } = 0.3;

    /// <summary>A track unseen for this long ends (its rule timers reset). 100 ms–1 min, default 1 s.</summary>
    public TimeSpan TrackTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Frames flowing into the camera but none processed for this long makes the pipeline unhealthy. 1 s–10 min, default 15 s.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(15);

    internal IReadOnlyList<string> EffectiveTargets => ExplainTargets.Count == 0 ? ["top"] : ExplainTargets;
}

public enum ExplainMode
{
    None,
    All,
    Flagged,
    Sampled,
}

public sealed class PipelineOptionsValidator : IValidateOptions<PipelineOptions>
{
    public ValidateOptionsResult Validate(string? name, PipelineOptions o)
    {
        var f = new List<string>();
        const string S = PipelineOptions.SectionName;
        if (o.MaxFrameAge < TimeSpan.FromMilliseconds(50) || o.MaxFrameAge > TimeSpan.FromMinutes(1))
        {
            f.Add($"{S}:MaxFrameAge must be between 00:00:00.05 and 00:01:00 (was {o.MaxFrameAge})");
        }

        if (!Enum.IsDefined(o.Explain))
        {
            f.Add($"{S}:Explain must be None, All, Flagged or Sampled (was {o.Explain})");
        }

        if (!Enum.IsDefined(o.ExplainLrp))
        {
            f.Add($"{S}:ExplainLrp must be Reduced or Full (was {o.ExplainLrp})");
        }

        if (!Enum.IsDefined(o.ExplainProjection))
        {
            f.Add($"{S}:ExplainProjection must be Direct or Guided (was {o.ExplainProjection})");
        }

        if (o.ExplainEvery is < 1 or > 10_000)
        {
            f.Add($"{S}:ExplainEvery must be between 1 and 10000 (was {o.ExplainEvery})");
        }

        for (var i = 0; i < o.ExplainTargets.Count; i++)
        {
            var t = o.ExplainTargets[i];
            if (t != "top" && !Expressions.Names.Contains(t, StringComparer.OrdinalIgnoreCase))
            {
                f.Add($"{S}:ExplainTargets:{i} must be 'top' or one of {string.Join(", ", Expressions.Names)} (was '{t}')");
            }
        }

        if (o.EventQueueCapacity is < 1 or > 10_000)
        {
            f.Add($"{S}:EventQueueCapacity must be between 1 and 10000 (was {o.EventQueueCapacity})");
        }

        if (o.TrackIou is < 0.05 or > 0.95)
        {
            f.Add($"{S}:TrackIou must be between 0.05 and 0.95 (was {o.TrackIou})");
        }

        if (o.TrackTimeout < TimeSpan.FromMilliseconds(100) || o.TrackTimeout > TimeSpan.FromMinutes(1))
        {
            f.Add($"{S}:TrackTimeout must be between 00:00:00.1 and 00:01:00 (was {o.TrackTimeout})");
        }

        if (o.StallTimeout < TimeSpan.FromSeconds(1) || o.StallTimeout > TimeSpan.FromMinutes(10))
        {
            f.Add($"{S}:StallTimeout must be between 00:00:01 and 00:10:00 (was {o.StallTimeout})");
        }

        return f.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(f);
    }
}
