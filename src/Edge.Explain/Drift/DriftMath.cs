namespace Edge.Explain.Drift;

/// <summary>
/// Histograms on [0, 1] and the two standard distribution-shift statistics between a baseline (p) and a recent
/// window (q): PSI = Σ (qᵢ − pᵢ)·ln(qᵢ / pᵢ) (symmetric; the credit-scoring rule of thumb reads &lt; 0.1 stable,
/// 0.1–0.25 moderate, &gt; 0.25 major shift) and KL(q ‖ p) = Σ qᵢ·ln(qᵢ / pᵢ). Empty bins would make both
/// infinite, so each proportion is smoothed with half a count per bin (Jeffreys prior).
/// </summary>
public static class DriftMath
{
    /// <summary>The bin of a value in [0, 1] (values outside are clamped; NaN goes to bin 0).</summary>
    public static int Bin(float value, int bins)
    {
        if (!(value > 0f))
        {
            return 0;
        }

        var b = (int)(value * bins);
        return b >= bins ? bins - 1 : b;
    }

    public static long[] Histogram(IEnumerable<float> values, int bins)
    {
        ArgumentNullException.ThrowIfNull(values);
        var h = new long[bins];
        foreach (var v in values)
        {
            h[Bin(v, bins)]++;
        }

        return h;
    }

    public static double[] Proportions(IReadOnlyList<long> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var total = counts.Sum() + (0.5 * counts.Count);
        return [.. counts.Select(c => (c + 0.5) / total)];
    }

    public static double Psi(IReadOnlyList<long> baseline, IReadOnlyList<long> recent)
    {
        Check(baseline, recent);
        var p = Proportions(baseline);
        var q = Proportions(recent);
        double s = 0;
        for (var i = 0; i < p.Length; i++)
        {
            s += (q[i] - p[i]) * Math.Log(q[i] / p[i]);
        }

        return s;
    }

    public static double Kl(IReadOnlyList<long> baseline, IReadOnlyList<long> recent)
    {
        Check(baseline, recent);
        var p = Proportions(baseline);
        var q = Proportions(recent);
        double s = 0;
        for (var i = 0; i < p.Length; i++)
        {
            s += q[i] * Math.Log(q[i] / p[i]);
        }

        return Math.Max(0, s);
    }

    private static void Check(IReadOnlyList<long> a, IReadOnlyList<long> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count || a.Count == 0)
        {
            throw new ArgumentException($"histograms must have the same, non-zero number of bins ({a.Count} vs {b.Count})");
        }
    }
}
