namespace Edge.Onnx.Quantization;

/// <summary>A closed float range [Min, Max] observed or chosen for a tensor.</summary>
public readonly record struct TensorRange(float Min, float Max)
{
    /// <summary>The smallest range that holds both.</summary>
    public TensorRange Union(TensorRange other) => new(MathF.Min(Min, other.Min), MathF.Max(Max, other.Max));
}

/// <summary>Scale and zero point of one linearly quantized tensor: real = (q − ZeroPoint) × Scale.</summary>
public readonly record struct QuantParams(float Scale, int ZeroPoint)
{
    /// <summary>
    /// Parameters for an activation with the given range. The range is widened to include 0 so that 0 (padding,
    /// Relu) is exact. UInt8 is asymmetric over 0..255; Int8 is symmetric over −127..127 with zero point 0.
    /// </summary>
    public static QuantParams ForActivation(TensorRange range, ActivationType type)
    {
        var min = MathF.Min(range.Min, 0f);
        var max = MathF.Max(range.Max, 0f);
        if (!float.IsFinite(min) || !float.IsFinite(max))
        {
            throw new ArgumentException($"Range [{range.Min}, {range.Max}] is not finite.", nameof(range));
        }

        if (type == ActivationType.Int8)
        {
            var absMax = MathF.Max(-min, max);
            return absMax == 0 ? new QuantParams(1f, 0) : new QuantParams(absMax / 127f, 0);
        }

        if (max == min)
        {
            return new QuantParams(1f, 0);
        }

        var scale = (max - min) / 255f;
        var zeroPoint = (int)Math.Clamp(MathF.Round(-min / scale, MidpointRounding.ToEven), 0f, 255f);
        return new QuantParams(scale, zeroPoint);
    }

    /// <summary>QuantizeLinear semantics: saturate(round_half_even(x / scale) + zero point).</summary>
    public int Quantize(float x, int qmin, int qmax)
    {
        var q = MathF.Round(x / Scale, MidpointRounding.ToEven) + ZeroPoint;
        return (int)Math.Clamp(q, qmin, qmax);
    }
}

/// <summary>Symmetric per-channel int8 weights and their int32 bias, as ONNX Runtime's QLinearConv expects.</summary>
internal static class WeightQuantizer
{
    /// <summary>
    /// Quantizes <paramref name="weights"/> per channel along an axis of <paramref name="dims"/> to int8 in −127..127
    /// with zero point 0. Returns the int8 values and one scale per channel (a channel of zeros gets scale 1).
    /// </summary>
    public static (sbyte[] Values, float[] Scales) PerChannel(ReadOnlySpan<float> weights, IReadOnlyList<long> dims, int axis)
    {
        if (axis < 0 || axis >= dims.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} is outside a {dims.Count}-D weight.");
        }

        var channels = (int)dims[axis];
        long inner = 1;
        for (var d = axis + 1; d < dims.Count; d++)
        {
            inner *= dims[d];
        }

        var absMax = new float[channels];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            absMax[c] = MathF.Max(absMax[c], MathF.Abs(weights[i]));
        }

        var scales = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            scales[c] = absMax[c] == 0 ? 1f : absMax[c] / 127f;
        }

        var values = new sbyte[weights.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            var q = MathF.Round(weights[i] / scales[c], MidpointRounding.ToEven);
            values[i] = (sbyte)Math.Clamp(q, -127f, 127f);
        }

        return (values, scales);
    }

    /// <summary>
    /// Quantizes a bias to int32 with scale inputScale × weightScale[c] per channel, the scale QLinearConv and QGemm
    /// apply. Where a bias would overflow int32 the weight scale of that channel is too small to be usable: throws.
    /// </summary>
    public static (int[] Values, float[] Scales) Bias(ReadOnlySpan<float> bias, float inputScale, IReadOnlyList<float> weightScales)
    {
        if (weightScales.Count != bias.Length && weightScales.Count != 1)
        {
            throw new ArgumentException($"bias has {bias.Length} values but there are {weightScales.Count} weight scales.", nameof(weightScales));
        }

        var values = new int[bias.Length];
        var scales = new float[bias.Length];
        for (var c = 0; c < bias.Length; c++)
        {
            var scale = inputScale * weightScales[weightScales.Count == 1 ? 0 : c];
            scales[c] = scale;
            var q = Math.Round((double)bias[c] / scale, MidpointRounding.ToEven);
            if (q is > int.MaxValue or < int.MinValue || double.IsNaN(q))
            {
                throw new InvalidOperationException(
                    $"bias channel {c} ({bias[c]}) overflows int32 at scale {scale}; the weights of that channel are too small to quantize.");
            }

            values[c] = (int)q;
        }

        return (values, scales);
    }
}
