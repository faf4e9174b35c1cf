using Edge.Onnx.Models;
using Microsoft.Extensions.Options;

namespace Edge.Explain.Faces;

/// <summary>Which converted emotion model scores faces.</summary>
public enum ScoringPrecision
{
    /// <summary>The int8 QDQ model (<c>emotion.int8.onnx</c>).</summary>
    Int8,

    /// <summary>The float model converted from TF.js (<c>emotion.fp32.onnx</c>).</summary>
    Fp32,
}

/// <summary>Which BlazeFace variant finds faces.</summary>
public enum DetectorVariant
{
    /// <summary><c>blazeface-back</c>, 256×256: faces anywhere in the frame (the upstream default).</summary>
    Back,

    /// <summary><c>blazeface-front</c>, 128×128: cheaper, for kiosks where the face fills much of the frame.</summary>
    Front,
}

/// <summary>Face detection and expression scoring, configuration section <c>Faces</c>.</summary>
public sealed class FaceAnalyzerOptions
{
    public const string SectionName = "Faces";

    /// <summary>Folder with the models <c>edge model build</c> wrote; default <c>$EDGE_MODELS</c>, else <c>~/.cache/edge/models</c>.</summary>
    public string ModelDirectory { get; set; } = ModelPaths.ModelDirectory;

    /// <summary>Scoring model precision; default Int8 (<c>edge model build</c> writes both).</summary>
    public ScoringPrecision Precision { get; set; } = ScoringPrecision.Int8;

    /// <summary>Detector variant; default Back.</summary>
    public DetectorVariant Detector { get; set; } = DetectorVariant.Back;

    /// <summary>Overrides the scoring model file (else <c>ModelDirectory/emotion.{precision}.onnx</c>).</summary>
    public string? ScorerModelPath { get; set; }

    /// <summary>Overrides the detector model file (else <c>ModelDirectory/blazeface-{back|front}.fp32.onnx</c>).</summary>
    public string? DetectorModelPath { get; set; }

    /// <summary>Minimum detector score (sigmoid of the logit), 0–1; default 0.5.</summary>
    public float MinDetectorScore { get; set; } = 0.5f;

    /// <summary>Non-maximum suppression IoU threshold, 0–1; default 0.3.</summary>
    public float NmsIouThreshold { get; set; } = 0.3f;

    /// <summary>
    /// Drop a detection when more than this fraction of its area lies inside a better one, 0–1 (1: off); default 0.7.
    /// BlazeFace-back fires on parts of a face that fills the frame; two real faces do not nest.
    /// </summary>
    public float NestedOverlapThreshold { get; set; } = 0.7f;

    /// <summary>Most faces per frame, 1–100; default 20.</summary>
    public int MaxFaces { get; set; } = 20;

    /// <summary>Crop side as a multiple of the longer box side, 1–3; default 1.2.</summary>
    public float CropMargin { get; set; } = 1.2f;

    /// <summary>ONNX Runtime intra-op threads per session, 0–64 (0 lets ORT choose); default 1.</summary>
    public int IntraOpThreads { get; set; } = 1;

    public string ResolvedScorerPath =>
        ScorerModelPath ?? Path.Combine(ModelDirectory, ModelCatalog.Get(ModelCatalog.Emotion).FileName(Precision == ScoringPrecision.Int8 ? "int8" : "fp32"));

    public string ResolvedDetectorPath =>
        DetectorModelPath ?? Path.Combine(ModelDirectory, ModelCatalog.Get(Detector == DetectorVariant.Back ? ModelCatalog.BlazeFaceBack : ModelCatalog.BlazeFaceFront).FileName("fp32"));
}

/// <summary>Checks ranges and that the model files exist; each failure names its key.</summary>
public sealed class FaceAnalyzerOptionsValidator : IValidateOptions<FaceAnalyzerOptions>
{
    public ValidateOptionsResult Validate(string? name, FaceAnalyzerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string S = FaceAnalyzerOptions.SectionName;
        var f = new List<string>();
        if (!Enum.IsDefined(options.Precision))
        {
            f.Add($"{S}:Precision must be Int8 or Fp32 (was {options.Precision})");
        }

        if (!Enum.IsDefined(options.Detector))
        {
            f.Add($"{S}:Detector must be Back or Front (was {options.Detector})");
        }

        if (options.MinDetectorScore is < 0f or > 1f or float.NaN)
        {
            f.Add($"{S}:MinDetectorScore must be between 0 and 1 (was {options.MinDetectorScore})");
        }

        if (options.NmsIouThreshold is < 0f or > 1f or float.NaN)
        {
            f.Add($"{S}:NmsIouThreshold must be between 0 and 1 (was {options.NmsIouThreshold})");
        }

        if (options.NestedOverlapThreshold is < 0f or > 1f or float.NaN)
        {
            f.Add($"{S}:NestedOverlapThreshold must be between 0 and 1 (was {options.NestedOverlapThreshold})");
        }

        if (options.MaxFaces is < 1 or > 100)
        {
            f.Add($"{S}:MaxFaces must be between 1 and 100 (was {options.MaxFaces})");
        }

        if (options.CropMargin is < 1f or > 3f or float.NaN)
        {
            f.Add($"{S}:CropMargin must be between 1 and 3 (was {options.CropMargin})");
        }

        if (options.IntraOpThreads is < 0 or > 64)
        {
            f.Add($"{S}:IntraOpThreads must be between 0 and 64 (was {options.IntraOpThreads})");
        }

        if (f.Count == 0)
        {
            if (!File.Exists(options.ResolvedScorerPath))
            {
                var key = options.ScorerModelPath is null ? $"{S}:ModelDirectory/{S}:Precision" : $"{S}:ScorerModelPath";
                f.Add($"{key}: scoring model {options.ResolvedScorerPath} not found (run ./edge setup or edge model build)");
            }

            if (!File.Exists(options.ResolvedDetectorPath))
            {
                var key = options.DetectorModelPath is null ? $"{S}:ModelDirectory/{S}:Detector" : $"{S}:DetectorModelPath";
                f.Add($"{key}: detector model {options.ResolvedDetectorPath} not found (run ./edge setup or edge model build)");
            }
        }

        return f.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(f);
    }
}
