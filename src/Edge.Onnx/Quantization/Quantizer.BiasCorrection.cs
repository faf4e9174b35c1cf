using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Onnx.Quantization;

public static partial class Quantizer
{
    /// <summary>
    /// Empirical bias correction (Nagel et al. 2019, §4.2, measured rather than derived): the mean per channel of
    /// each Conv's output in the QDQ model is compared with the float model's on the calibration samples, and the
    /// float bias is moved by the difference, so the quantized model's systematic shift (weight rounding, clipped
    /// ranges, a clamped Relu) is cancelled. Convs are corrected one at a time in graph order, so each sees the
    /// earlier ones corrected. Returns the corrected float model; quantize it with the same statistics (the shifts
    /// are small against the ranges).
    /// </summary>
    public static ModelProto CorrectBias(
        OrtEnvironment environment,
        ModelProto fp32,
        CalibrationStatistics statistics,
        IReadOnlyList<IReadOnlyList<NamedTensor>> samples,
        QuantizerOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(options);
        var current = fp32.Clone();
        var biasOf = new List<(string Node, string Bias)>();
        foreach (var node in current.Graph.Node.Where(n => n.OpType == "Conv" && n.Input.Count > 2 && n.Input[2].Length > 0))
        {
            if (OnnxModel.FindInitializer(current, node.Input[2]) is { DataType: (int)TensorElementType.Float })
            {
                biasOf.Add((node.Name, node.Input[2]));
            }
        }

        if (biasOf.Count == 0)
        {
            return current;
        }

        // One Conv at a time in graph order: each is corrected against a model whose earlier Convs already are
        // (correcting all at once counts an upstream shift twice and overshoots).
        var reference = ChannelMeans(environment, current, biasOf.Select(b => b.Node), samples, cancellationToken);
        foreach (var (node, biasName) in biasOf)
        {
            var quantized = QdqRewriter.Rewrite(current, statistics, options).Model;
            var measured = ChannelMeans(environment, quantized, [node], samples, cancellationToken);
            if (!measured.TryGetValue(node, out var q) || !reference.TryGetValue(node, out var r) || q.Length != r.Length)
            {
                continue;
            }

            var index = current.Graph.Initializer.IndexOf(OnnxModel.FindInitializer(current, biasName)!);
            var tensor = current.Graph.Initializer[index];
            var bias = Tensors.ToFloatArray(tensor);
            for (var c = 0; c < bias.Length; c++)
            {
                bias[c] -= (float)(q[c] - r[c]);
            }

            current.Graph.Initializer[index] = Tensors.Create(biasName, bias, [.. tensor.Dims]);
        }

        return current;
    }

    /// <summary>Per-channel means of the first output of the named nodes (4-D NCHW outputs only), over the samples.</summary>
    private static Dictionary<string, double[]> ChannelMeans(
        OrtEnvironment environment,
        ModelProto model,
        IEnumerable<string> nodeNames,
        IReadOnlyList<IReadOnlyList<NamedTensor>> samples,
        CancellationToken cancellationToken)
    {
        var augmented = model.Clone();
        var wanted = new HashSet<string>(nodeNames, StringComparer.Ordinal);
        var tensorToNode = new Dictionary<string, string>(StringComparer.Ordinal);
        var outputs = new HashSet<string>(augmented.Graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        foreach (var node in augmented.Graph.Node.Where(n => wanted.Contains(n.Name)))
        {
            tensorToNode[node.Output[0]] = node.Name;
            if (outputs.Add(node.Output[0]))
            {
                augmented.Graph.Output.Add(new ValueInfoProto
                {
                    Name = node.Output[0],
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorElementType.Float } },
                });
            }
        }

        var names = tensorToNode.Keys.ToList();
        if (names.Count == 0)
        {
            // The QDQ model no longer has these nodes (a layout rewrite replaced them): nothing to measure.
            return new Dictionary<string, double[]>(StringComparer.Ordinal);
        }

        var sums = new Dictionary<string, double[]>(StringComparer.Ordinal);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        using var session = environment.CreateSession(
            OnnxModel.ToBytes(augmented),
            new SessionSettings { IntraOpThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.Basic });
        foreach (var sample in samples)
        {
            foreach (var tensor in session.Run(sample, names, cancellationToken))
            {
                if (tensor.Shape.Length != 4)
                {
                    continue;
                }

                var values = tensor.AsFloat();
                var channels = (int)tensor.Shape[1];
                var plane = (int)(tensor.Shape[2] * tensor.Shape[3]);
                var node = tensorToNode[tensor.Name];
                if (!sums.TryGetValue(node, out var sum))
                {
                    sums[node] = sum = new double[channels];
                }

                for (var n = 0; n < tensor.Shape[0]; n++)
                {
                    for (var c = 0; c < channels; c++)
                    {
                        sum[c] += System.Numerics.Tensors.TensorPrimitives.Sum(values.AsSpan(((n * channels) + c) * plane, plane));
                    }
                }

                counts[node] = counts.GetValueOrDefault(node) + (tensor.Shape[0] * plane);
            }
        }

        return sums.ToDictionary(s => s.Key, s => s.Value.Select(v => v / counts[s.Key]).ToArray(), StringComparer.Ordinal);
    }
}
