namespace Edge.Onnx.Quantization;

/// <summary>One class's agreement between the float and the quantized model.</summary>
/// <param name="Class">Class name.</param>
/// <param name="Fp32Top1">Inputs the float model ranks first in this class.</param>
/// <param name="Agreeing">Of those, inputs the quantized model also ranks first in this class.</param>
/// <param name="MeanAbsDelta">Mean |p_int8 − p_fp32| of this class's probability over every input.</param>
/// <param name="MaxAbsDelta">Largest |p_int8 − p_fp32| of this class's probability.</param>
public sealed record ClassAgreement(string Class, int Fp32Top1, int Agreeing, double MeanAbsDelta, double MaxAbsDelta);

/// <summary>How closely a quantized classifier follows its float original on the same inputs.</summary>
/// <param name="Count">Inputs compared.</param>
/// <param name="Top1Agreeing">Inputs whose top-1 class is the same in both models.</param>
/// <param name="Classes">Per-class figures, in output order.</param>
public sealed record Agreement(int Count, int Top1Agreeing, IReadOnlyList<ClassAgreement> Classes)
{
    /// <summary>Top-1 agreement as a fraction in [0, 1].</summary>
    public double Top1 => Count == 0 ? 0 : (double)Top1Agreeing / Count;

    /// <summary>Compares outputs row by row: <paramref name="fp32"/>[i] and <paramref name="quantized"/>[i] are the same input.</summary>
    public static Agreement Compare(IReadOnlyList<float[]> fp32, IReadOnlyList<float[]> quantized, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(quantized);
        ArgumentNullException.ThrowIfNull(classes);
        if (fp32.Count != quantized.Count)
        {
            throw new ArgumentException($"{fp32.Count} float rows but {quantized.Count} quantized rows.", nameof(quantized));
        }

        var k = classes.Count;
        var top1 = new int[k];
        var agreeing = new int[k];
        var sum = new double[k];
        var max = new double[k];
        var same = 0;
        for (var i = 0; i < fp32.Count; i++)
        {
            var a = fp32[i];
            var b = quantized[i];
            if (a.Length != k || b.Length != k)
            {
                throw new ArgumentException($"row {i} has {a.Length} and {b.Length} values for {k} classes.", nameof(fp32));
            }

            var ta = ArgMax(a);
            var tb = ArgMax(b);
            top1[ta]++;
            if (ta == tb)
            {
                agreeing[ta]++;
                same++;
            }

            for (var c = 0; c < k; c++)
            {
                var d = Math.Abs((double)b[c] - a[c]);
                sum[c] += d;
                max[c] = Math.Max(max[c], d);
            }
        }

        var perClass = new ClassAgreement[k];
        for (var c = 0; c < k; c++)
        {
            perClass[c] = new ClassAgreement(classes[c], top1[c], agreeing[c], fp32.Count == 0 ? 0 : sum[c] / fp32.Count, max[c]);
        }

        return new Agreement(fp32.Count, same, perClass);
    }

    /// <summary>Index of the largest value (the first, on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
