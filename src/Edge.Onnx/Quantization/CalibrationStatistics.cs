namespace Edge.Onnx.Quantization;

/// <summary>
/// What calibration saw of one float tensor: its extremes, a histogram of its values over [Min, Max] and a histogram
/// of its non-zero magnitudes over [0, max |x|]. Every calibration method is a function of these, so one calibration run
/// serves all methods.
/// </summary>
public sealed class TensorStatistics
{
    private readonly long[] _values;
    private readonly long[] _magnitudes;

    internal TensorStatistics(string name, float min, float max, long[] values, long[] magnitudes)
    {
        Name = name;
        Min = min;
        Max = max;
        _values = values;
        _magnitudes = magnitudes;
    }

    /// <summary>The largest share of non-zero values the entropy method may clip (0.1 %).</summary>
    public const double EntropyMaxClipped = 0.001;

    /// <summary>The tensor's name in the float graph.</summary>
    public string Name { get; }

    /// <summary>Smallest value seen.</summary>
    public float Min { get; }

    /// <summary>Largest value seen.</summary>
    public float Max { get; }

    /// <summary>Largest magnitude per channel (axis 1) for 4-D tensors; null otherwise.</summary>
    public IReadOnlyList<float>? ChannelAbsMax { get; init; }

    /// <summary>The tensor's shape, when every sample gave the same one; null otherwise (or when none was given).</summary>
    public IReadOnlyList<long>? Shape { get; init; }

    /// <summary>Number of values seen.</summary>
    public long Count => _values.Sum();

    /// <summary>The range <paramref name="options"/>' calibration method picks for this tensor.</summary>
    public TensorRange Range(QuantizerOptions options) => options.Calibration switch
    {
        CalibrationMethod.MinMax => new TensorRange(Min, Max),
        CalibrationMethod.Percentile => PercentileRange(options.Percentile),
        CalibrationMethod.Entropy => EntropyRange(options.ActivationType),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Calibration, "unknown calibration method"),
    };

    /// <summary>The values below the (100 − p) and above the p percentile are clipped.</summary>
    internal TensorRange PercentileRange(double percentile)
    {
        if (Max <= Min)
        {
            return new TensorRange(Min, Max);
        }

        var total = _values.Sum();
        var tail = total * (100.0 - percentile) / 100.0;
        var width = (Max - Min) / _values.Length;

        var lowBin = 0;
        double cumulative = 0;
        for (; lowBin < _values.Length - 1; lowBin++)
        {
            cumulative += _values[lowBin];
            if (cumulative > tail)
            {
                break;
            }
        }

        var highBin = _values.Length - 1;
        cumulative = 0;
        for (; highBin > 0; highBin--)
        {
            cumulative += _values[highBin];
            if (cumulative > tail)
            {
                break;
            }
        }

        var low = MathF.Max(Min, Min + (lowBin * width));
        var high = MathF.Min(Max, Min + ((highBin + 1) * width));
        return high > low ? new TensorRange(low, high) : new TensorRange(Min, Max);
    }

    /// <summary>
    /// The magnitude threshold t minimising KL(P‖Q) between the magnitude histogram clipped at t and its
    /// quantization to the levels available on that side of zero (255 for a non-negative tensor with uint8,
    /// 127 otherwise), but no lower than the magnitude that clips <see cref="EntropyMaxClipped"/> of the values;
    /// the range is [max(Min, −t), min(Max, t)].
    /// </summary>
    internal TensorRange EntropyRange(ActivationType type)
    {
        var absMax = MathF.Max(MathF.Abs(Min), MathF.Abs(Max));
        if (absMax == 0)
        {
            return new TensorRange(Min, Max);
        }

        var levels = type == ActivationType.UInt8 && Min >= 0 ? 255 : 127;
        var bins = _magnitudes.Length;
        var best = EntropyThresholdBin(_magnitudes, levels);

        // Spiky histograms (a depthwise conv over Relu zeros puts one spike per channel at its bias) can pull the
        // KL optimum far into the bulk; never clip more than EntropyMaxClipped of the non-zero values.
        var total = _magnitudes.Sum();
        var floor = bins;
        double tail = 0;
        while (floor > 1 && tail + _magnitudes[floor - 1] <= total * EntropyMaxClipped)
        {
            tail += _magnitudes[--floor];
        }

        best = Math.Max(best, floor);
        var threshold = best >= bins ? absMax : absMax * best / bins;
        return new TensorRange(MathF.Max(Min, -threshold), MathF.Min(Max, threshold));
    }

    /// <summary>The number of leading histogram bins (the clip point) with the least KL divergence.</summary>
    internal static int EntropyThresholdBin(ReadOnlySpan<long> histogram, int levels)
    {
        var bins = histogram.Length;
        if (bins <= levels)
        {
            return bins;
        }

        var p = new double[bins];
        var q = new double[bins];
        double outliers = 0;
        for (var k = levels; k < bins; k++)
        {
            outliers += histogram[k];
        }

        var bestBin = bins;
        var bestDivergence = double.PositiveInfinity;
        for (var i = levels; i <= bins; i++)
        {
            // P: the first i bins with everything beyond folded into the last one.
            for (var k = 0; k < i; k++)
            {
                p[k] = histogram[k];
            }

            p[i - 1] += outliers;
            if (i < bins)
            {
                outliers -= histogram[i];
            }

            // Q: the first i bins merged into `levels` groups, each spread evenly over its non-empty bins.
            for (var j = 0; j < levels; j++)
            {
                var start = (int)((long)j * i / levels);
                var end = (int)((long)(j + 1) * i / levels);
                double sum = 0;
                var nonEmpty = 0;
                for (var k = start; k < end; k++)
                {
                    sum += histogram[k];
                    nonEmpty += histogram[k] != 0 ? 1 : 0;
                }

                for (var k = start; k < end; k++)
                {
                    q[k] = histogram[k] != 0 ? sum / nonEmpty : 0;
                }
            }

            var divergence = KlDivergence(p.AsSpan(0, i), q.AsSpan(0, i));
            if (divergence < bestDivergence)
            {
                bestDivergence = divergence;
                bestBin = i;
            }
        }

        return bestBin;
    }

    private static double KlDivergence(ReadOnlySpan<double> p, ReadOnlySpan<double> q)
    {
        double pSum = 0, qSum = 0;
        for (var k = 0; k < p.Length; k++)
        {
            pSum += p[k];
            qSum += q[k];
        }

        if (pSum == 0 || qSum == 0)
        {
            return double.PositiveInfinity;
        }

        const double Epsilon = 1e-12;
        double divergence = 0;
        for (var k = 0; k < p.Length; k++)
        {
            if (p[k] == 0)
            {
                continue;
            }

            var pk = p[k] / pSum;
            var qk = Math.Max(q[k] / qSum, Epsilon);
            divergence += pk * Math.Log(pk / qk);
        }

        return divergence;
    }
}

/// <summary>
/// Collects <see cref="TensorStatistics"/> in two passes over the calibration samples: extremes first, then
/// histograms over those extremes. Deterministic: the same values in the same order give the same statistics.
/// </summary>
public sealed class CalibrationCollector
{
    private readonly int _bins;
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];
    private readonly List<float> _min = [];
    private readonly List<float> _max = [];
    private readonly List<float[]?> _channelAbsMax = [];
    private readonly List<long[]?> _shape = [];
    private readonly HashSet<int> _shapeVaries = [];
    private long[][]? _values;
    private long[][]? _magnitudes;

    /// <summary>A collector whose histograms have <paramref name="bins"/> bins.</summary>
    public CalibrationCollector(int bins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 16);
        _bins = bins;
    }

    /// <summary>True once <see cref="BeginHistograms"/> has run.</summary>
    public bool InHistogramPass => _values is not null;

    /// <summary>
    /// Pass 1: widen the tensor's extremes by these values; with a 4-D NCHW <paramref name="shape"/>, also each
    /// channel's largest magnitude (what cross-layer equalization balances).
    /// </summary>
    public void ObserveRange(string tensor, ReadOnlySpan<float> values, ReadOnlySpan<long> shape)
    {
        ObserveRange(tensor, values);
        var index = _index[tensor];
        if (_shape[index] is null && !_shapeVaries.Contains(index))
        {
            _shape[index] = shape.ToArray();
        }
        else if (_shape[index] is { } seen && !shape.SequenceEqual(seen))
        {
            _shape[index] = null;
            _shapeVaries.Add(index);
        }

        if (shape.Length != 4 || shape[0] * shape[1] * shape[2] * shape[3] != values.Length)
        {
            return;
        }

        var i = _index[tensor];
        var channels = (int)shape[1];
        var plane = (int)(shape[2] * shape[3]);
        var absMax = _channelAbsMax[i] ??= new float[channels];
        if (absMax.Length != channels)
        {
            throw new InvalidOperationException($"tensor '{tensor}' changed from {absMax.Length} to {channels} channels during calibration.");
        }

        for (var n = 0; n < shape[0]; n++)
        {
            for (var c = 0; c < channels; c++)
            {
                var slice = values.Slice(((n * channels) + c) * plane, plane);
                absMax[c] = MathF.Max(absMax[c], MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(slice)));
            }
        }
    }

    /// <summary>Pass 1: widen the tensor's extremes by these values.</summary>
    public void ObserveRange(string tensor, ReadOnlySpan<float> values)
    {
        if (InHistogramPass)
        {
            throw new InvalidOperationException("ObserveRange after BeginHistograms.");
        }

        if (!_index.TryGetValue(tensor, out var i))
        {
            i = _names.Count;
            _index.Add(tensor, i);
            _names.Add(tensor);
            _min.Add(float.PositiveInfinity);
            _max.Add(float.NegativeInfinity);
            _channelAbsMax.Add(null);
            _shape.Add(null);
        }

        if (values.IsEmpty)
        {
            return;
        }

        var min = System.Numerics.Tensors.TensorPrimitives.Min(values);
        var max = System.Numerics.Tensors.TensorPrimitives.Max(values);
        if (!float.IsFinite(min) || !float.IsFinite(max))
        {
            throw new InvalidOperationException($"tensor '{tensor}' holds NaN or infinity during calibration.");
        }

        _min[i] = MathF.Min(_min[i], min);
        _max[i] = MathF.Max(_max[i], max);
    }

    /// <summary>Ends pass 1; histograms are laid over the extremes seen so far.</summary>
    public void BeginHistograms()
    {
        _values = new long[_names.Count][];
        _magnitudes = new long[_names.Count][];
        for (var i = 0; i < _names.Count; i++)
        {
            _values[i] = new long[_bins];
            _magnitudes[i] = new long[_bins];
        }
    }

    /// <summary>Pass 2: add these values to the tensor's histograms.</summary>
    public void ObserveHistogram(string tensor, ReadOnlySpan<float> values)
    {
        if (_values is null || _magnitudes is null)
        {
            throw new InvalidOperationException("ObserveHistogram before BeginHistograms.");
        }

        if (!_index.TryGetValue(tensor, out var i))
        {
            throw new InvalidOperationException($"tensor '{tensor}' was not seen in the range pass.");
        }

        var min = _min[i];
        var max = _max[i];
        var valueHistogram = _values[i];
        var magnitudeHistogram = _magnitudes[i];
        var last = _bins - 1;
        var width = max > min ? (max - min) / _bins : 0f;
        var absMax = MathF.Max(MathF.Abs(min), MathF.Abs(max));
        var absWidth = absMax > 0 ? absMax / _bins : 0f;
        foreach (var x in values)
        {
            var v = width > 0 ? (int)((x - min) / width) : 0;
            valueHistogram[Math.Clamp(v, 0, last)]++;
            // Exact zeros (Relu outputs, padding) are exact in every quantization: left out of the entropy
            // histogram, where their spike in the first bin would pull the threshold far down.
            if (x != 0)
            {
                var m = absWidth > 0 ? (int)(MathF.Abs(x) / absWidth) : 0;
                magnitudeHistogram[Math.Clamp(m, 0, last)]++;
            }
        }
    }

    /// <summary>The statistics, one per tensor, in the order tensors were first observed.</summary>
    public CalibrationStatistics Build()
    {
        if (_values is null || _magnitudes is null)
        {
            throw new InvalidOperationException("Build before the histogram pass.");
        }

        var result = new TensorStatistics[_names.Count];
        for (var i = 0; i < result.Length; i++)
        {
            if (!float.IsFinite(_min[i]))
            {
                throw new InvalidOperationException($"tensor '{_names[i]}' had no values during calibration.");
            }

            result[i] = new TensorStatistics(_names[i], _min[i], _max[i], _values[i], _magnitudes[i]) { ChannelAbsMax = _channelAbsMax[i], Shape = _shape[i] };
        }

        return new CalibrationStatistics(result);
    }
}

/// <summary>Statistics of every observed tensor, in the order first observed; one run serves every method.</summary>
public sealed class CalibrationStatistics
{
    private readonly Dictionary<string, TensorStatistics> _byName;

    internal CalibrationStatistics(IReadOnlyList<TensorStatistics> tensors)
    {
        Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Every observed tensor.</summary>
    public IReadOnlyList<TensorStatistics> Tensors { get; }

    /// <summary>Number of calibration samples run.</summary>
    public int SampleCount { get; init; }

    /// <summary>Lookup by tensor name.</summary>
    public IReadOnlyDictionary<string, TensorStatistics> ByName => _byName;
}
