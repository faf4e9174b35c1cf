using Edge.Onnx.Quantization;

namespace Edge.Onnx.Tests.Quantization;

public sealed class CalibrationStatisticsTests
{
    private static TensorStatistics Collect(float[] values, int bins = 2048)
    {
        var collector = new CalibrationCollector(bins);
        // Two samples, as a calibration run would see them.
        var half = values.Length / 2;
        collector.ObserveRange("t", values.AsSpan(0, half));
        collector.ObserveRange("t", values.AsSpan(half));
        collector.BeginHistograms();
        collector.ObserveHistogram("t", values.AsSpan(0, half));
        collector.ObserveHistogram("t", values.AsSpan(half));
        return Assert.Single(collector.Build().Tensors);
    }

    private static float[] GaussianWithOutlier(int count, float outlier, int seed = 3)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            // Box–Muller.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        values[count / 3] = outlier;
        return values;
    }

    [Fact]
    public void Range_MinMax_ReturnsObservedExtremes()
    {
        var stats = Collect(GaussianWithOutlier(10_000, 40f));
        var range = stats.Range(new QuantizerOptions { Calibration = CalibrationMethod.MinMax });
        Assert.Equal(40f, range.Max);
        Assert.Equal(stats.Min, range.Min);
        Assert.Equal(10_000, stats.Count);
    }

    [Fact]
    public void Range_PercentileWithOneOutlier_ClipsTheOutlier()
    {
        var stats = Collect(GaussianWithOutlier(100_000, 40f));
        var range = stats.Range(new QuantizerOptions { Calibration = CalibrationMethod.Percentile, Percentile = 99.99 });
        Assert.InRange(range.Max, 3f, 5f);
        Assert.InRange(range.Min, -5f, -3f);
    }

    [Fact]
    public void Range_Percentile100_KeepsEverything()
    {
        var stats = Collect(GaussianWithOutlier(10_000, 40f));
        var range = stats.Range(new QuantizerOptions { Calibration = CalibrationMethod.Percentile, Percentile = 100 });
        Assert.Equal(40f, range.Max, 3);
    }

    [Fact]
    public void Range_EntropyOnGaussianWithOutlier_ThresholdWellBelowOutlierAndAboveBulk()
    {
        var stats = Collect(GaussianWithOutlier(100_000, 40f));
        var range = stats.Range(new QuantizerOptions { Calibration = CalibrationMethod.Entropy });
        Assert.InRange(range.Max, 2f, 20f);
        Assert.Equal(-range.Max, range.Min, 3);
    }

    [Fact]
    public void Range_EntropyOnUniform_KeepsNearlyTheWholeRange()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 100_000).Select(_ => (float)random.NextDouble() * 6f).ToArray();
        var stats = Collect(values);
        var range = stats.Range(new QuantizerOptions { Calibration = CalibrationMethod.Entropy });
        Assert.InRange(range.Max, 5.5f, 6f);
        Assert.True(range.Min >= 0f);
    }

    [Fact]
    public void Build_SameValuesTwice_SameRanges()
    {
        var values = GaussianWithOutlier(20_000, 9f);
        var options = new QuantizerOptions { Calibration = CalibrationMethod.Entropy };
        Assert.Equal(Collect(values).Range(options), Collect(values).Range(options));
    }

    [Fact]
    public void ObserveRange_NaN_ThrowsNamingTheTensor()
    {
        var collector = new CalibrationCollector(256);
        var e = Assert.Throws<InvalidOperationException>(() => collector.ObserveRange("conv_7", [1f, float.NaN]));
        Assert.Contains("conv_7", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QuantizerOptions_Defaults_UInt8Percentile99999EqualizationBiasCorrectionFloatStemAndLayoutRewrites()
    {
        // The one default `edge model build` ships (src/Edge.Host/Models/README.md); bench/results/quant.txt is why.
        var options = new QuantizerOptions();
        Assert.Equal(ActivationType.UInt8, options.ActivationType);
        Assert.Equal(CalibrationMethod.Percentile, options.Calibration);
        Assert.Equal(99.999, options.Percentile);
        Assert.True(options.Equalize);
        Assert.Equal(0.75f, options.EqualizationStrength);
        Assert.True(options.RewriteForIntegerKernels);
        Assert.True(options.CorrectBias);
        Assert.True(options.KeepSingleChannelConvFloat);
    }
}
