namespace Edge.Explain.Faces;

/// <summary>One detected face in detector-input pixels before mapping back to the frame.</summary>
public struct FaceDetection
{
    public float X1;
    public float Y1;
    public float X2;
    public float Y2;
    public float Score;
    public int Anchor;

    /// <summary>BlazeFace's mouth-centre keypoint.</summary>
    public float MouthX;
    public float MouthY;
}

/// <summary>
/// MediaPipe BlazeFace post-processing: 896 anchors (a 16×16 grid with 2 anchors per cell at stride
/// size/16, then an 8×8 grid with 6 per cell at stride size/8), box decoding (centre = anchor + (dx, dy),
/// size = (w, h), all in input pixels) and of the mouth keypoint, a score threshold on sigmoid(logit), and greedy
/// non-maximum suppression. Buffers are made once; <see cref="Decode"/> allocates nothing.
/// </summary>
public sealed class BlazeFaceDecoder
{
    public const int AnchorCount = 896;
    public const int FineAnchors = 512;
    public const int Regressors = 16;

    /// <summary>
    /// Index of the mouth centre among the six keypoints that follow the box in each anchor's regressors (right eye,
    /// left eye, nose tip, mouth centre, right ear, left ear; each an (x, y) offset from the anchor in input pixels).
    /// </summary>
    public const int MouthKeypoint = 3;

    private readonly float[] _anchorX = new float[AnchorCount];
    private readonly float[] _anchorY = new float[AnchorCount];
    private readonly float[] _sortKeys = new float[AnchorCount];
    private readonly int[] _order = new int[AnchorCount];
    private readonly FaceDetection[] _candidates = new FaceDetection[AnchorCount];

    public BlazeFaceDecoder(int inputSize)
    {
        if (inputSize is < 16 || inputSize % 16 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, "BlazeFace input size must be a positive multiple of 16.");
        }

        InputSize = inputSize;
        var i = 0;
        foreach (var (grid, perCell) in new[] { (16, 2), (8, 6) })
        {
            var stride = (float)inputSize / grid;
            for (var y = 0; y < grid; y++)
            {
                for (var x = 0; x < grid; x++)
                {
                    for (var k = 0; k < perCell; k++, i++)
                    {
                        _anchorX[i] = stride * (x + 0.5f);
                        _anchorY[i] = stride * (y + 0.5f);
                    }
                }
            }
        }
    }

    public int InputSize { get; }

    /// <summary>The centre of an anchor in input pixels.</summary>
    public (float X, float Y) AnchorCentre(int anchor) => (_anchorX[anchor], _anchorY[anchor]);

    /// <summary>
    /// Decodes the model outputs (<c>Identity</c> 512 logits, <c>Identity_1</c> 384, <c>Identity_2</c> 512×16,
    /// <c>Identity_3</c> 384×16) into at most <c>detections.Length</c> faces, best first; returns how many.
    /// A candidate is suppressed when its IoU with a kept face exceeds <paramref name="iouThreshold"/>, or when
    /// more than <paramref name="nestedThreshold"/> of its own area lies inside a kept face (BlazeFace-back
    /// fires on parts of a face that fills the frame; two real faces do not nest). 1 turns the second rule off.
    /// </summary>
    public int Decode(
        ReadOnlySpan<float> logitsFine,
        ReadOnlySpan<float> logitsCoarse,
        ReadOnlySpan<float> boxesFine,
        ReadOnlySpan<float> boxesCoarse,
        float minScore,
        float iouThreshold,
        float nestedThreshold,
        Span<FaceDetection> detections)
    {
        if (logitsFine.Length != FineAnchors || logitsCoarse.Length != AnchorCount - FineAnchors
            || boxesFine.Length != FineAnchors * Regressors || boxesCoarse.Length != (AnchorCount - FineAnchors) * Regressors)
        {
            throw new ArgumentException("BlazeFace outputs must be 512 + 384 logits and 512×16 + 384×16 regressors.");
        }

        // sigmoid(logit) >= minScore  <=>  logit >= log(minScore / (1 - minScore))
        var minLogit = minScore <= 0f ? float.NegativeInfinity : minScore >= 1f ? float.PositiveInfinity : MathF.Log(minScore / (1f - minScore));
        var n = 0;
        for (var i = 0; i < AnchorCount; i++)
        {
            var logit = i < FineAnchors ? logitsFine[i] : logitsCoarse[i - FineAnchors];
            if (!(logit >= minLogit))
            {
                continue;
            }

            var r = i < FineAnchors ? boxesFine.Slice(i * Regressors, Regressors) : boxesCoarse.Slice((i - FineAnchors) * Regressors, Regressors);
            var cx = _anchorX[i] + r[0];
            var cy = _anchorY[i] + r[1];
            var hw = r[2] * 0.5f;
            var hh = r[3] * 0.5f;
            if (!(hw > 0f && hh > 0f))
            {
                continue;
            }

            ref var c = ref _candidates[n];
            c.X1 = cx - hw;
            c.Y1 = cy - hh;
            c.X2 = cx + hw;
            c.Y2 = cy + hh;
            c.Score = 1f / (1f + MathF.Exp(-logit));
            c.Anchor = i;
            c.MouthX = _anchorX[i] + r[4 + (2 * MouthKeypoint)];
            c.MouthY = _anchorY[i] + r[5 + (2 * MouthKeypoint)];
            _sortKeys[n] = -c.Score;
            _order[n] = n;
            n++;
        }

        Array.Sort(_sortKeys, _order, 0, n);
        var kept = 0;
        for (var k = 0; k < n && kept < detections.Length; k++)
        {
            ref readonly var c = ref _candidates[_order[k]];
            var suppressed = false;
            for (var j = 0; j < kept; j++)
            {
                if (Iou(c, detections[j]) > iouThreshold || (nestedThreshold < 1f && InsideFraction(c, detections[j]) > nestedThreshold))
                {
                    suppressed = true;
                    break;
                }
            }

            if (!suppressed)
            {
                detections[kept++] = c;
            }
        }

        return kept;
    }

    /// <summary>The fraction of <paramref name="inner"/>'s area that lies inside <paramref name="outer"/>.</summary>
    public static float InsideFraction(in FaceDetection inner, in FaceDetection outer)
    {
        var iw = MathF.Min(inner.X2, outer.X2) - MathF.Max(inner.X1, outer.X1);
        var ih = MathF.Min(inner.Y2, outer.Y2) - MathF.Max(inner.Y1, outer.Y1);
        var area = (inner.X2 - inner.X1) * (inner.Y2 - inner.Y1);
        return iw <= 0f || ih <= 0f || area <= 0f ? 0f : iw * ih / area;
    }

    public static float Iou(in FaceDetection a, in FaceDetection b)
    {
        var iw = MathF.Min(a.X2, b.X2) - MathF.Max(a.X1, b.X1);
        var ih = MathF.Min(a.Y2, b.Y2) - MathF.Max(a.Y1, b.Y1);
        if (iw <= 0f || ih <= 0f)
        {
            return 0f;
        }

        var inter = iw * ih;
        var union = ((a.X2 - a.X1) * (a.Y2 - a.Y1)) + ((b.X2 - b.X1) * (b.Y2 - b.Y1)) - inter;
        return union > 0f ? inter / union : 0f;
    }
}
