using Edge.Onnx.Graph;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Quantization;

/// <summary>One equalized convolution pair: the tensor between them and the spread of the per-channel factors.</summary>
/// <param name="Producer">The convolution whose output channels were divided by s.</param>
/// <param name="Consumers">The convolutions whose matching input weights were multiplied by s.</param>
/// <param name="Tensor">The activation between them (after the Relu, when there is one).</param>
/// <param name="RangeRatioBefore">Largest ÷ smallest non-zero per-channel magnitude before.</param>
/// <param name="RangeRatioAfter">The same after.</param>
public sealed record EqualizedPair(string Producer, IReadOnlyList<string> Consumers, string Tensor, float RangeRatioBefore, float RangeRatioAfter);

/// <summary>A float model with balanced channel ranges, equivalent to the source up to float rounding.</summary>
public sealed record EqualizationResult(ModelProto Model, IReadOnlyList<EqualizedPair> Pairs);

public static partial class Quantizer
{
    /// <summary>
    /// Cross-layer equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
    /// Correction", 2019), driven by calibrated channel ranges: for a Conv whose output (through an optional Relu)
    /// feeds only Convs, output channel c is divided by s_c and the consumers' input channel c multiplied by s_c.
    /// A depthwise consumer absorbs any s_c in its per-channel weight scale, so s_c brings every channel to the
    /// tensor's largest range; a dense consumer gets s_c = √(activation range / weight range), balancing both.
    /// Needs statistics with per-channel ranges (from <see cref="Calibrate(Runtime.OrtEnvironment, ModelProto, IEnumerable{IReadOnlyList{Runtime.NamedTensor}}, int, CancellationToken)"/>).
    /// </summary>
    public static EqualizationResult Equalize(ModelProto fp32, CalibrationStatistics statistics) => Equalize(fp32, statistics, 0.5f);

    /// <summary>
    /// As <see cref="Equalize(ModelProto, CalibrationStatistics)"/>, with a dense consumer's factor
    /// s_c = r_c^α · w_c^(α − 1) (r: activation range, w: weight range): α = 0.5 balances both (√(r/w)), α = 1 gives
    /// every channel the same activation range and leaves the weights to absorb it.
    /// </summary>
    public static EqualizationResult Equalize(ModelProto fp32, CalibrationStatistics statistics, float strength)
    {
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(statistics);
        var model = fp32.Clone();
        var graph = model.Graph;
        var initializerIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < graph.Initializer.Count; i++)
        {
            initializerIndex[graph.Initializer[i].Name] = i;
        }

        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input.Where(i => i.Length > 0))
            {
                uses[input] = uses.GetValueOrDefault(input) + 1;
                if (!consumers.TryGetValue(input, out var list))
                {
                    consumers[input] = list = [];
                }

                list.Add(node);
            }
        }

        var outputs = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        var pairs = new List<EqualizedPair>();

        bool IsOwnedFloatInitializer(string name, int rank) =>
            initializerIndex.TryGetValue(name, out var i) && graph.Initializer[i].DataType == (int)TensorElementType.Float
            && graph.Initializer[i].Dims.Count == rank && uses.GetValueOrDefault(name) == 1;

        foreach (var producer in graph.Node.Where(n => n.OpType == "Conv" && n.Domain.Length == 0).ToList())
        {
            if (!IsOwnedFloatInitializer(producer.Input[1], 4)
                || (producer.Input.Count > 2 && producer.Input[2].Length > 0 && !IsOwnedFloatInitializer(producer.Input[2], 1)))
            {
                continue;
            }

            var tensor = producer.Output[0];
            if (outputs.Contains(tensor) || !consumers.TryGetValue(tensor, out var next))
            {
                continue;
            }

            if (next.Count == 1 && next[0].OpType == "Relu")
            {
                tensor = next[0].Output[0];
                if (outputs.Contains(tensor) || !consumers.TryGetValue(tensor, out next))
                {
                    continue;
                }
            }

            var channels = (int)graph.Initializer[initializerIndex[producer.Input[1]]].Dims[0];
            if (!next.All(c => IsEqualizableConsumer(c, tensor, channels)) || !statistics.ByName.TryGetValue(tensor, out var stats)
                || stats.ChannelAbsMax is not { } ranges || ranges.Count != channels)
            {
                continue;
            }

            var scales = Factors(graph, initializerIndex, next, ranges, strength);
            if (scales is null)
            {
                continue;
            }

            Scale(graph, initializerIndex, producer.Input[1], axis: 0, scales, divide: true);
            if (producer.Input.Count > 2 && producer.Input[2].Length > 0)
            {
                Scale(graph, initializerIndex, producer.Input[2], axis: 0, scales, divide: true);
            }

            foreach (var consumer in next)
            {
                Scale(graph, initializerIndex, consumer.Input[1], axis: IsDepthwise(graph, initializerIndex, consumer) ? 0 : 1, scales, divide: false);
            }

            var after = ranges.Select((r, c) => r / scales[c]).ToArray();
            pairs.Add(new EqualizedPair(producer.Name, next.Select(n => n.Name).ToList(), tensor, Spread(ranges), Spread(after)));
        }

        return new EqualizationResult(model, pairs);

        bool IsEqualizableConsumer(NodeProto node, string tensor, int channels)
        {
            if (node.OpType != "Conv" || node.Domain.Length > 0 || node.Input[0] != tensor || node.Input.Skip(1).Contains(tensor)
                || !IsOwnedFloatInitializer(node.Input[1], 4))
            {
                return false;
            }

            var dims = graph.Initializer[initializerIndex[node.Input[1]]].Dims;
            var group = node.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
            return (group == 1 && dims[1] == channels) || (group == channels && dims[0] == channels && dims[1] == 1);
        }
    }

    private static bool IsDepthwise(GraphProto graph, Dictionary<string, int> index, NodeProto node)
    {
        var group = node.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
        return group > 1 && graph.Initializer[index[node.Input[1]]].Dims[1] == 1;
    }

    /// <summary>Per-channel factors s_c, or null when nothing would change.</summary>
    private static float[]? Factors(GraphProto graph, Dictionary<string, int> index, List<NodeProto> consumers, IReadOnlyList<float> ranges, float strength)
    {
        var channels = ranges.Count;
        var maxRange = ranges.Max();
        if (maxRange <= 0)
        {
            return null;
        }

        // Largest magnitude of each input channel's weights over the dense consumers (depthwise ones absorb any s).
        var weightRanges = new float[channels];
        var dense = false;
        foreach (var consumer in consumers.Where(c => !IsDepthwise(graph, index, c)))
        {
            dense = true;
            var w = graph.Initializer[index[consumer.Input[1]]];
            var values = Tensors.ToFloatArray(w);
            var inner = (int)(w.Dims[2] * w.Dims[3]);
            for (var i = 0; i < values.Length; i++)
            {
                var c = i / inner % channels;
                weightRanges[c] = MathF.Max(weightRanges[c], MathF.Abs(values[i]));
            }
        }

        var scales = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            var r = ranges[c];
            scales[c] = r <= 0 ? 1f
                : !dense ? r / maxRange
                : weightRanges[c] <= 0 ? 1f
                : strength == 0.5f ? MathF.Sqrt(r / weightRanges[c])
                : MathF.Pow(r, strength) * MathF.Pow(weightRanges[c], strength - 1f);
        }

        if (dense)
        {
            // A common factor changes nothing for quantization; keep the tensor's largest magnitude where it was.
            var largestAfter = ranges.Select((r, c) => r / scales[c]).Max();
            var k = largestAfter / maxRange;
            for (var c = 0; c < channels; c++)
            {
                scales[c] *= k;
            }
        }

        for (var c = 0; c < channels; c++)
        {
            scales[c] = Math.Clamp(scales[c], 1e-6f, 1e6f);
        }

        return scales.All(s => s == 1f) ? null : scales;
    }

    private static void Scale(GraphProto graph, Dictionary<string, int> index, string name, int axis, float[] scales, bool divide)
    {
        var tensor = graph.Initializer[index[name]];
        var values = Tensors.ToFloatArray(tensor);
        var dims = tensor.Dims.ToArray();
        long inner = 1;
        for (var d = axis + 1; d < dims.Length; d++)
        {
            inner *= dims[d];
        }

        var channels = dims[axis];
        for (var i = 0; i < values.Length; i++)
        {
            var c = (int)(i / inner % channels);
            values[i] = divide ? values[i] / scales[c] : values[i] * scales[c];
        }

        graph.Initializer[index[name]] = Tensors.Create(name, values, dims);
    }

    private static float Spread(IEnumerable<float> ranges)
    {
        var positive = ranges.Where(r => r > 0).ToList();
        return positive.Count == 0 ? 1f : positive.Max() / positive.Min();
    }
}
