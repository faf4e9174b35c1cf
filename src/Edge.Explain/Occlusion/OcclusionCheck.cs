namespace Edge.Explain.Occlusion;

/// <summary>One occlusion test: the target score on the intact crop, with the heatmap's top patch greyed, and with a random patch greyed.</summary>
public readonly record struct OcclusionOutcome(int Target, float Intact, float TopOccluded, float RandomOccluded, int TopX, int TopY, int RandomX, int RandomY)
{
    /// <summary>The heatmap's most relevant patch lowered the score by this much.</summary>
    public float TopDrop => Intact - TopOccluded;

    /// <summary>The random patch lowered the score by this much.</summary>
    public float RandomDrop => Intact - RandomOccluded;

    /// <summary>Heatmap and occlusion disagree: the patch the heatmap calls most relevant mattered less than a random one.</summary>
    public bool Disagrees => TopDrop < RandomDrop;
}

/// <summary>
/// The in-operation faithfulness check of an explanation (occlusion, after Zeiler &amp; Fergus and the
/// pixel-flipping test of Samek et al.): grey out (input value 0 = mid-grey after the model's normalisation) the
/// square of the crop that holds the most relevance for the explained class, and a square at a random place;
/// if the relevant square lowers the class score less than the random one, the heatmap and the model disagree.
/// </summary>
public static class OcclusionCheck
{
    /// <param name="crop">The model input: <paramref name="side"/>² normalised grey values.</param>
    /// <param name="heatmap">The relevance map of <paramref name="target"/>, any size (mapped onto the crop by nearest neighbour).</param>
    /// <param name="score">Scores a crop; returns the probability of the target class. Called three times.</param>
    public static OcclusionOutcome Run(ReadOnlySpan<float> crop, int side, Heatmap heatmap, int target, int patch, Random random, Func<float[], float> score)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(score);
        if (crop.Length != side * side)
        {
            throw new ArgumentException($"crop has {crop.Length} values, expected {side}×{side}", nameof(crop));
        }

        if (patch < 1 || patch > side)
        {
            throw new ArgumentOutOfRangeException(nameof(patch), patch, $"1–{side}");
        }

        var relevance = Resample(heatmap, side);
        var (tx, ty) = TopPatch(relevance, side, patch);
        var rx = random.Next(0, side - patch + 1);
        var ry = random.Next(0, side - patch + 1);
        var buffer = crop.ToArray();
        var intact = score(buffer);
        Grey(crop, buffer, side, tx, ty, patch);
        var top = score(buffer);
        Grey(crop, buffer, side, rx, ry, patch);
        var rand = score(buffer);
        return new OcclusionOutcome(target, intact, top, rand, tx, ty, rx, ry);
    }

    /// <summary>Top-left corner of the <paramref name="patch"/>² square (stride 2) with the largest relevance sum.</summary>
    public static (int X, int Y) TopPatch(float[] relevance, int side, int patch)
    {
        ArgumentNullException.ThrowIfNull(relevance);
        // summed-area table for O(1) window sums
        var sat = new double[(side + 1) * (side + 1)];
        for (var y = 0; y < side; y++)
        {
            double row = 0;
            for (var x = 0; x < side; x++)
            {
                row += relevance[(y * side) + x];
                sat[((y + 1) * (side + 1)) + x + 1] = sat[(y * (side + 1)) + x + 1] + row;
            }
        }

        var best = double.NegativeInfinity;
        (int X, int Y) at = (0, 0);
        for (var y = 0; y + patch <= side; y += 2)
        {
            for (var x = 0; x + patch <= side; x += 2)
            {
                var s = sat[((y + patch) * (side + 1)) + x + patch] - sat[(y * (side + 1)) + x + patch] - sat[((y + patch) * (side + 1)) + x] + sat[(y * (side + 1)) + x];
                if (s > best)
                {
                    (best, at) = (s, (x, y));
                }
            }
        }

        return at;
    }

    private static float[] Resample(Heatmap h, int side)
    {
        if (h.Relevance.Length != h.Width * h.Height || h.Width < 1 || h.Height < 1)
        {
            throw new ArgumentException($"heatmap holds {h.Relevance.Length} values for {h.Width}×{h.Height}", nameof(h));
        }

        var r = new float[side * side];
        for (var y = 0; y < side; y++)
        {
            var sy = Math.Min(h.Height - 1, y * h.Height / side);
            for (var x = 0; x < side; x++)
            {
                r[(y * side) + x] = h.Relevance[(sy * h.Width) + Math.Min(h.Width - 1, x * h.Width / side)];
            }
        }

        return r;
    }

    private static void Grey(ReadOnlySpan<float> crop, float[] buffer, int side, int x0, int y0, int patch)
    {
        crop.CopyTo(buffer);
        for (var y = y0; y < y0 + patch; y++)
        {
            Array.Clear(buffer, (y * side) + x0, patch);
        }
    }
}
