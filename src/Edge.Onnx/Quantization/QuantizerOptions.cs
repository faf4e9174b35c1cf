namespace Edge.Onnx.Quantization;

/// <summary>The integer type activations are quantized to.</summary>
public enum ActivationType
{
    /// <summary>Asymmetric uint8 (zero point in 0..255). The layout ONNX Runtime fuses fastest on x86 (U8S8).</summary>
    UInt8,

    /// <summary>Symmetric int8 (zero point 0). More accurate on signed tensors, slower on ONNX Runtime CPU.</summary>
    Int8,
}

/// <summary>How an activation's range is chosen from the calibration data.</summary>
public enum CalibrationMethod
{
    /// <summary>The observed minimum and maximum.</summary>
    MinMax,

    /// <summary>The <see cref="QuantizerOptions.Percentile"/> percentile at each end of the observed distribution.</summary>
    Percentile,

    /// <summary>The clipping threshold that minimises the KL divergence between the float and quantized histograms.</summary>
    Entropy,
}

/// <summary>Settings for <see cref="Quantizer"/>. Defaults give the layout ONNX Runtime 1.30 fuses on x86 CPUs.</summary>
public sealed record QuantizerOptions
{
    /// <summary>Activation integer type. Default <see cref="ActivationType.UInt8"/>.</summary>
    public ActivationType ActivationType { get; init; } = ActivationType.UInt8;

    /// <summary>
    /// Range selection. Default <see cref="CalibrationMethod.Percentile"/> (<see cref="Percentile"/> 99.999), chosen on
    /// the emotion model's held-out real face crops (bench/Edge.Bench quant; figures in src/Edge.Onnx/README.md,
    /// "Quantizer"). Chosen on those held-out crops; there is no third, untouched set.
    /// </summary>
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.Percentile;

    /// <summary>
    /// Percentile kept at each end for <see cref="CalibrationMethod.Percentile"/>, in (50, 100]. Default 99.999: once
    /// the pooled head no longer rounds and clips the per-position logits, clipping is what costs most (99.9 doubled
    /// the held-out logit error; 99.99 → 99.999 lowered it by a quarter).
    /// </summary>
    public double Percentile { get; init; } = 99.999;

    /// <summary>Histogram bins used by the percentile and entropy methods. Default 2048.</summary>
    public int HistogramBins { get; init; } = 2048;

    /// <summary>
    /// Operator types that always run in float (their inputs are dequantized, their outputs stay float).
    /// Default: Softmax, ReduceMean, GlobalAveragePool — the pooled logits and probabilities keep full precision.
    /// </summary>
    public IReadOnlySet<string> KeepFloatOpTypes { get; init; } =
        new HashSet<string>(StringComparer.Ordinal) { "Softmax", "ReduceMean", "GlobalAveragePool" };

    /// <summary>Node names that always run in float, whatever their type.</summary>
    public IReadOnlySet<string> KeepFloatNodes { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Keep a Conv with one input channel (a grey-image stem) in float. Default true. Its integer form gains nothing on
    /// ORT 1.30 x86 (one channel defeats the indirect conv kernel; even as space-to-depth the stem costs what the float
    /// NCHWc Conv + reorder + QuantizeLinear cost), while quantizing it adds the two largest errors at the input: an
    /// 8-bit image normalised as (g/255 − 0.5)·2 sits half a step off every uint8 grid (each pixel dithered by ±½ grey
    /// level) and the stem has only kh·kw taps per channel. When false, <see cref="RewriteForIntegerKernels"/> runs a
    /// stride-2 stem as space-to-depth.
    /// </summary>
    public bool KeepSingleChannelConvFloat { get; init; } = true;

    /// <summary>Keep the last weighted node (Conv, MatMul, Gemm) before each graph output in float. Default false.</summary>
    public bool KeepLastLayerFloat { get; init; }

    /// <summary>
    /// Remove a Relu that follows a quantized Conv/Add/MatMul/Gemm whose only consumer it is, and let the output
    /// QuantizeLinear (zero point 0) do the clamping. Only applies to <see cref="ActivationType.UInt8"/>. Default true.
    /// </summary>
    public bool FoldRelu { get; init; } = true;

    /// <summary>
    /// Before quantizing, balance per-channel ranges between consecutive convolutions (cross-layer equalization:
    /// a channel's output scaled by 1/s, the next convolution's matching input weights by s; exact in float) so the
    /// per-tensor activation scale fits every channel. Used by the calibrating overloads of Quantize. Default true.
    /// </summary>
    public bool Equalize { get; init; } = true;

    /// <summary>
    /// How far equalization moves a dense consumer's channel scale toward equal activation ranges: factor
    /// s_c = r_c^α · w_c^(α − 1), α in [0.5, 1]. 0.5 is Nagel et al.'s √(r/w) balance. Default 0.75: on the emotion
    /// model the error is mostly activation rounding (its weights alone cost less than its activations alone), so
    /// tilting the balance toward the activations lowered the held-out happy-score change.
    /// </summary>
    public float EqualizationStrength { get; init; } = 0.75f;

    /// <summary>
    /// After calibration, move each Conv's float bias by the per-channel mean error the quantized model shows on the
    /// calibration samples (see <see cref="Quantizer.CorrectBias"/>). Used by the calibrating overloads of Quantize.
    /// Default true: with the float stem and the pooled head it lowered the emotion model's held-out error a little
    /// (bench quant --splits=4: mean L1 of the probabilities 0.0362 → 0.0348, top-1 228.2 → 229.2 of 234; --splits=8:
    /// 0.0360 → 0.0352, 228.6 → 228.9). It costs one quantize-and-run pass over the calibration set per Conv.
    /// </summary>
    public bool CorrectBias { get; init; } = true;

    /// <summary>
    /// Before placing Q/DQ, make the float-exact rewrites ORT's integer kernels run faster (space-to-depth stem for a
    /// stride-2 conv on one channel, a conv + global mean head as one Gemm, an Add feeding a Relu and other nodes
    /// computed once per branch; see the README's rules). Default true.
    /// </summary>
    public bool RewriteForIntegerKernels { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (!(Percentile > 50 && Percentile <= 100))
        {
            throw new ArgumentException($"QuantizerOptions.Percentile must be in (50, 100], got {Percentile}.", nameof(Percentile));
        }

        if (!(EqualizationStrength >= 0.5f && EqualizationStrength <= 1f))
        {
            throw new ArgumentException($"QuantizerOptions.EqualizationStrength must be in [0.5, 1], got {EqualizationStrength}.", nameof(EqualizationStrength));
        }

        if (HistogramBins is < 256 or > 1 << 16)
        {
            throw new ArgumentException($"QuantizerOptions.HistogramBins must be in [256, 65536], got {HistogramBins}.", nameof(HistogramBins));
        }
    }
}
