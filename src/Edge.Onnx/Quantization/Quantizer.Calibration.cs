using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Quantization;

public static partial class Quantizer
{
    /// <summary>
    /// Runs <paramref name="fp32"/> on every sample (one <see cref="NamedTensor"/> per model input) with each
    /// calibration target exposed as an extra output, twice: extremes first, then histograms over them.
    /// </summary>
    public static CalibrationStatistics Calibrate(
        OrtEnvironment environment,
        ModelProto fp32,
        IEnumerable<IReadOnlyList<NamedTensor>> samples,
        int histogramBins = 2048,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(samples);
        var list = samples.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("calibration needs at least one sample.", nameof(samples));
        }

        var targets = CalibrationTargets(fp32);
        var augmented = fp32.Clone();
        var outputs = new HashSet<string>(augmented.Graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        foreach (var target in targets.Where(outputs.Add))
        {
            augmented.Graph.Output.Add(new ValueInfoProto
            {
                Name = target,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorElementType.Float } },
            });
        }

        // Basic optimisation keeps every exposed tensor as it is in the float graph; one thread keeps sums ordered.
        using var session = environment.CreateSession(
            OnnxModel.ToBytes(augmented),
            new SessionSettings { IntraOpThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.Basic });
        var collector = new CalibrationCollector(histogramBins);
        foreach (var sample in list)
        {
            foreach (var tensor in session.Run(sample, targets, cancellationToken))
            {
                collector.ObserveRange(tensor.Name, tensor.AsFloat(), tensor.Shape);
            }
        }

        collector.BeginHistograms();
        foreach (var sample in list)
        {
            foreach (var tensor in session.Run(sample, targets, cancellationToken))
            {
                collector.ObserveHistogram(tensor.Name, tensor.AsFloat());
            }
        }

        var statistics = collector.Build();
        return new CalibrationStatistics(statistics.Tensors) { SampleCount = list.Count };
    }

    /// <summary>Single-input convenience: each tensor is one sample for the model's only input.</summary>
    public static CalibrationStatistics Calibrate(
        OrtEnvironment environment,
        ModelProto fp32,
        IEnumerable<NamedTensor> samples,
        int histogramBins = 2048,
        CancellationToken cancellationToken = default) =>
        Calibrate(environment, fp32, samples.Select(s => (IReadOnlyList<NamedTensor>)[s]), histogramBins, cancellationToken);

    /// <summary>Calibrates with <paramref name="options"/>' histogram size, then writes the QDQ model.</summary>
    public static QuantizationResult Quantize(
        OrtEnvironment environment,
        ModelProto fp32,
        IEnumerable<IReadOnlyList<NamedTensor>> samples,
        QuantizerOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var list = samples.ToList();
        var statistics = Calibrate(environment, fp32, list, options.HistogramBins, cancellationToken);
        if (options.Equalize)
        {
            // Equalization rescales channels of some tensors: their ranges are measured again on the new model.
            fp32 = Equalize(fp32, statistics, options.EqualizationStrength).Model;
            statistics = Calibrate(environment, fp32, list, options.HistogramBins, cancellationToken);
        }

        if (options.CorrectBias)
        {
            fp32 = CorrectBias(environment, fp32, statistics, list, options, cancellationToken: cancellationToken);
        }

        return Quantize(fp32, statistics, options);
    }
}
