namespace Edge.Explain.Adaptation;

/// <summary>
/// Multinomial logistic regression started at, and pulled towards, a pre-trained classifier:
/// minimise mean cross-entropy + λ/2·(‖W − W₀‖² + ‖b − b₀‖²) by full-batch Adam. Deterministic: fixed order of
/// every sum, no randomness.
/// </summary>
public static class SoftmaxRegression
{
    public sealed record Fit(float[] Weight, float[] Bias, double LossBefore, double LossAfter, double AccuracyBefore, double AccuracyAfter);

    /// <param name="features">N rows of D features.</param>
    /// <param name="labels">N class indices in [0, K).</param>
    /// <param name="weight0">Pre-trained weights, K rows of D (row-major).</param>
    /// <param name="bias0">Pre-trained biases, K.</param>
    public static Fit Train(IReadOnlyList<float[]> features, IReadOnlyList<int> labels, float[] weight0, float[] bias0, float l2, int iterations, float learningRate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(weight0);
        ArgumentNullException.ThrowIfNull(bias0);
        var k = bias0.Length;
        var n = features.Count;
        if (n == 0 || labels.Count != n)
        {
            throw new ArgumentException("one label per feature row is needed", nameof(labels));
        }

        var d = features[0].Length;
        if (weight0.Length != k * d)
        {
            throw new ArgumentException($"weights hold {weight0.Length} values, expected {k}×{d}", nameof(weight0));
        }

        for (var i = 0; i < n; i++)
        {
            if (labels[i] < 0 || labels[i] >= k)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"label of row {i} is outside [0, {k})");
            }
        }

        var w = weight0.Select(v => (double)v).ToArray();
        var b = bias0.Select(v => (double)v).ToArray();
        var (lossBefore, accBefore) = Evaluate(features, labels, w, b, null, null);
        var gw = new double[w.Length];
        var gb = new double[k];
        var mw = new double[w.Length];
        var vw = new double[w.Length];
        var mb = new double[k];
        var vb = new double[k];
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        for (var t = 1; t <= iterations; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Evaluate(features, labels, w, b, gw, gb);
            for (var j = 0; j < w.Length; j++)
            {
                var g = gw[j] + (l2 * (w[j] - weight0[j]));
                mw[j] = (beta1 * mw[j]) + ((1 - beta1) * g);
                vw[j] = (beta2 * vw[j]) + ((1 - beta2) * g * g);
                w[j] -= learningRate * (mw[j] / (1 - Math.Pow(beta1, t))) / (Math.Sqrt(vw[j] / (1 - Math.Pow(beta2, t))) + eps);
            }

            for (var j = 0; j < k; j++)
            {
                var g = gb[j] + (l2 * (b[j] - bias0[j]));
                mb[j] = (beta1 * mb[j]) + ((1 - beta1) * g);
                vb[j] = (beta2 * vb[j]) + ((1 - beta2) * g * g);
                b[j] -= learningRate * (mb[j] / (1 - Math.Pow(beta1, t))) / (Math.Sqrt(vb[j] / (1 - Math.Pow(beta2, t))) + eps);
            }
        }

        var (lossAfter, accAfter) = Evaluate(features, labels, w, b, null, null);
        return new Fit([.. w.Select(v => (float)v)], [.. b.Select(v => (float)v)], lossBefore, lossAfter, accBefore, accAfter);
    }

    /// <summary>Mean cross-entropy and accuracy; fills the mean gradients when <paramref name="gw"/> is given.</summary>
    private static (double Loss, double Accuracy) Evaluate(IReadOnlyList<float[]> x, IReadOnlyList<int> y, double[] w, double[] b, double[]? gw, double[]? gb)
    {
        var k = b.Length;
        var d = x[0].Length;
        var n = x.Count;
        if (gw is not null)
        {
            Array.Clear(gw);
            Array.Clear(gb!);
        }

        var z = new double[k];
        double loss = 0;
        var correct = 0;
        for (var i = 0; i < n; i++)
        {
            var row = x[i];
            var best = 0;
            for (var c = 0; c < k; c++)
            {
                var s = b[c];
                var off = c * d;
                for (var j = 0; j < d; j++)
                {
                    s += w[off + j] * row[j];
                }

                z[c] = s;
                if (s > z[best])
                {
                    best = c;
                }
            }

            var max = z[best];
            double sum = 0;
            for (var c = 0; c < k; c++)
            {
                z[c] = Math.Exp(z[c] - max);
                sum += z[c];
            }

            loss -= Math.Log(Math.Max(z[y[i]] / sum, 1e-300));
            if (best == y[i])
            {
                correct++;
            }

            if (gw is null)
            {
                continue;
            }

            for (var c = 0; c < k; c++)
            {
                var g = ((z[c] / sum) - (c == y[i] ? 1 : 0)) / n;
                gb![c] += g;
                var off = c * d;
                for (var j = 0; j < d; j++)
                {
                    gw[off + j] += g * row[j];
                }
            }
        }

        return (loss / n, (double)correct / n);
    }
}
