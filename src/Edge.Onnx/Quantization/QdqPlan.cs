using Edge.Onnx.Graph;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Quantization;

/// <summary>How one float tensor of the source graph was quantized.</summary>
/// <param name="Name">Tensor name in the float graph.</param>
/// <param name="Observed">Extremes seen during calibration (over every tensor sharing these parameters).</param>
/// <param name="Chosen">Range picked by the calibration method (before widening to include 0).</param>
/// <param name="Params">Scale and zero point written to the QDQ model.</param>
/// <param name="SharedWith">The tensor whose parameters this one shares (MaxPool/Transpose/Reshape), or null.</param>
public sealed record QuantizedTensor(string Name, TensorRange Observed, TensorRange Chosen, QuantParams Params, string? SharedWith);

/// <summary>A QDQ model and what was done to make it.</summary>
/// <param name="Model">The QDQ model.</param>
/// <param name="Tensors">Every quantized activation, in graph order.</param>
/// <param name="QuantizedNodes">Names of nodes that run on integers after ORT's QDQ fusion (when ORT fuses them).</param>
/// <param name="FloatNodes">Names of nodes left in float, with the reason.</param>
/// <param name="FoldedRelus">Names of Relu nodes removed because their output QuantizeLinear (zero point 0) clamps.</param>
/// <param name="Rewrites">The float-exact graph rewrites made for the integer kernels (<see cref="QuantizerOptions.RewriteForIntegerKernels"/>).</param>
public sealed record QuantizationResult(
    ModelProto Model,
    IReadOnlyList<QuantizedTensor> Tensors,
    IReadOnlyList<string> QuantizedNodes,
    IReadOnlyList<(string Node, string Reason)> FloatNodes,
    IReadOnlyList<string> FoldedRelus,
    IReadOnlyList<string> Rewrites);

/// <summary>
/// Rewrites a float ONNX graph into QDQ form given per-tensor ranges. Placement follows what ONNX Runtime's QDQ
/// transformers fuse: one QuantizeLinear per quantized tensor directly after its producer (so Conv/Add/MatMul/Gemm
/// outputs feed only a Q), one DequantizeLinear per consumer, per-channel int8 weights and int32 biases as
/// initializers behind their own DequantizeLinear, shared parameters across MaxPool/Transpose/Reshape/Flatten/
/// Squeeze/Unsqueeze, and (uint8) Relu folded into a zero-point-0 Q.
/// </summary>
internal static class QdqRewriter
{
    private static readonly HashSet<string> WeightedOps = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul" };

    private static readonly HashSet<string> ComputeOps = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul", "Add", "Mul", "GlobalAveragePool", "AveragePool" };

    /// <summary>Ops that move or select values without changing them: their output shares the input's parameters.</summary>
    private static readonly HashSet<string> SharingOps = new(StringComparer.Ordinal) { "MaxPool", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze" };

    /// <summary>
    /// Float tensors any plan could quantize: activation inputs and outputs of the ops the quantizer knows. These
    /// are what calibration has to observe, whatever the options.
    /// </summary>
    public static IReadOnlyList<string> CalibrationTargets(ModelProto model)
    {
        var graph = model.Graph;
        var constants = ConstantNames(graph);
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string name)
        {
            if (name.Length > 0 && !constants.Contains(name) && seen.Add(name))
            {
                result.Add(name);
            }
        }

        foreach (var node in graph.Node)
        {
            if (node.Domain.Length > 0 && node.Domain != "ai.onnx")
            {
                continue;
            }

            if (ComputeOps.Contains(node.OpType) || SharingOps.Contains(node.OpType) || node.OpType == "Relu")
            {
                foreach (var slot in ActivationSlots(node))
                {
                    Add(node.Input[slot]);
                }

                Add(node.Output[0]);
            }
        }

        return result;
    }

    public static QuantizationResult Rewrite(ModelProto fp32, CalibrationStatistics statistics, QuantizerOptions options)
    {
        options.Validate();
        var model = fp32.Clone();
        var graph = model.Graph ?? throw new InvalidDataException("model has no graph");
        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0;
        if (opset < 13)
        {
            throw new NotSupportedException($"quantization needs ai.onnx opset 13 or later (per-axis QuantizeLinear/DequantizeLinear); the model imports opset {opset}.");
        }

        var rewrites = options.RewriteForIntegerKernels ? LayoutRewriter.Apply(model, statistics.ByName, options) : [];
        var context = new Context(graph, options);
        context.Plan();
        context.Emit(statistics.ByName);
        return new QuantizationResult(model, context.Report, context.QuantizedNodeNames, context.FloatNodeReasons, context.Folded, rewrites);
    }

    /// <summary>Input positions that carry activations (as opposed to weights, biases or shapes).</summary>
    private static IEnumerable<int> ActivationSlots(NodeProto node) => node.OpType switch
    {
        "Add" or "Mul" => Enumerable.Range(0, Math.Min(2, node.Input.Count)),
        "MatMul" => [0, 1],
        _ => [0],
    };

    private static HashSet<string> ConstantNames(GraphProto graph)
    {
        var constants = new HashSet<string>(graph.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        foreach (var node in graph.Node.Where(n => n.OpType == "Constant"))
        {
            constants.UnionWith(node.Output);
        }

        return constants;
    }

    private static long IntAttribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    private static float FloatAttribute(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;

    private sealed class Context(GraphProto graph, QuantizerOptions options)
    {
        private readonly Dictionary<string, TensorProto> _initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        private readonly HashSet<string> _constants = ConstantNames(graph);
        private readonly HashSet<string> _graphOutputs = new(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        private readonly HashSet<NodeProto> _quantized = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<string, string> _parent = new(StringComparer.Ordinal);
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);
        private readonly HashSet<string> _nodeNames = new(StringComparer.Ordinal);
        private readonly Dictionary<string, QuantParams> _params = new(StringComparer.Ordinal);
        private readonly HashSet<string> _nonNegative = new(StringComparer.Ordinal);
        private List<NodeProto> _nodes = [.. graph.Node];
        private Dictionary<string, NodeProto> _producer = new(StringComparer.Ordinal);
        private Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);

        public List<QuantizedTensor> Report { get; } = [];

        public List<string> QuantizedNodeNames { get; } = [];

        public List<(string Node, string Reason)> FloatNodeReasons { get; } = [];

        public List<string> Folded { get; } = [];

        private IntType Activation => options.ActivationType == ActivationType.UInt8 ? IntType.UInt8 : IntType.Int8;

        public void Plan()
        {
            Index();
            var keptLast = options.KeepLastLayerFloat ? LastWeightedNodes() : [];

            // 1. Compute nodes whose inputs the integer kernels can take.
            foreach (var node in _nodes)
            {
                if (WhyFloat(node, keptLast) is { } reason)
                {
                    FloatNodeReasons.Add((node.Name, reason));
                    continue;
                }

                if (ComputeOps.Contains(node.OpType))
                {
                    _quantized.Add(node);
                }
            }

            // 2. Relu after a quantized producer it alone consumes: the uint8 Q with zero point 0 clamps for it.
            if (options.FoldRelu && options.ActivationType == ActivationType.UInt8)
            {
                foreach (var relu in _nodes.Where(n => n.OpType == "Relu" && n.Domain.Length == 0).ToList())
                {
                    var input = relu.Input[0];
                    if (_producer.TryGetValue(input, out var producer) && _quantized.Contains(producer)
                        && producer.OpType != "GlobalAveragePool" && producer.OpType != "AveragePool"
                        && _consumers[input].Count == 1 && !_graphOutputs.Contains(input)
                        && !options.KeepFloatNodes.Contains(relu.Name) && !options.KeepFloatOpTypes.Contains("Relu"))
                    {
                        var index = producer.Output.IndexOf(input);
                        producer.Output[index] = relu.Output[0];
                        _nodes.Remove(relu);
                        _nonNegative.Add(relu.Output[0]);
                        Folded.Add(relu.Name);
                    }
                }

                Index();
            }

            // 3. Value-preserving ops and leftover Relus join when a neighbour is quantized (fixed point).
            var changed = true;
            while (changed)
            {
                changed = false;
                foreach (var node in _nodes)
                {
                    if (_quantized.Contains(node) || !(SharingOps.Contains(node.OpType) || node.OpType == "Relu") || WhyFloat(node, keptLast) is not null)
                    {
                        continue;
                    }

                    // A Gemm/MatMul output stays float unless an integer consumer reads it (see QuantizedTensors), so
                    // it does not pull a value-preserving op after it into the quantized set.
                    var fromQuantized = _producer.TryGetValue(node.Input[0], out var p) && _quantized.Contains(p) && p.OpType is not ("Gemm" or "MatMul");
                    var toQuantized = _consumers.TryGetValue(node.Output[0], out var cs) && cs.Any(c => _quantized.Contains(c) && ActivationSlots(c).Any(s => c.Input[s] == node.Output[0]));
                    if (fromQuantized || (toQuantized && node.OpType != "Relu"))
                    {
                        _quantized.Add(node);
                        changed = true;
                    }
                }
            }

            foreach (var node in _nodes.Where(n => SharingOps.Contains(n.OpType) && _quantized.Contains(n)))
            {
                Union(node.Input[0], node.Output[0]);
            }

            QuantizedNodeNames.AddRange(_nodes.Where(_quantized.Contains).Select(n => n.Name));
            foreach (var node in _nodes.Where(n => !_quantized.Contains(n) && !FloatNodeReasons.Any(f => f.Node == n.Name)))
            {
                FloatNodeReasons.Add((node.Name, ComputeOps.Contains(node.OpType) || SharingOps.Contains(node.OpType) || node.OpType == "Relu"
                    ? "no quantized neighbour"
                    : $"no integer kernel for {node.OpType}"));
            }
        }

        public void Emit(IReadOnlyDictionary<string, TensorStatistics> statistics)
        {
            var quantizedTensors = QuantizedTensors();
            ChooseParams(quantizedTensors, statistics);

            foreach (var v in graph.Input.Select(v => v.Name).Concat(graph.Output.Select(v => v.Name)).Concat(_initializers.Keys))
            {
                _names.Add(v);
            }

            foreach (var node in _nodes)
            {
                _names.UnionWith(node.Output);
                _nodeNames.Add(node.Name);
            }

            var newInitializers = new List<TensorProto>();
            var emitted = new List<NodeProto>();
            var quantizedName = new Dictionary<string, string>(StringComparer.Ordinal);
            var finalDequantize = new List<NodeProto>();

            void EmitQuantize(string tensor, string source)
            {
                var p = _params[tensor];
                var (scale, zeroPoint) = ScaleAndZeroPoint(tensor, p, newInitializers);
                var output = Fresh(tensor + "_quantized");
                emitted.Add(Node("QuantizeLinear", tensor + "_QuantizeLinear", [source, scale, zeroPoint], output));
                quantizedName[tensor] = output;
            }

            string EmitDequantize(string tensor, List<NodeProto> into)
            {
                var p = _params[tensor];
                var (scale, zeroPoint) = ScaleAndZeroPoint(tensor, p, newInitializers);
                var output = Fresh(tensor + "_dequantized");
                into.Add(Node("DequantizeLinear", tensor + "_DequantizeLinear", [quantizedName[tensor], scale, zeroPoint], output));
                return output;
            }

            foreach (var input in graph.Input.Where(i => quantizedTensors.Contains(i.Name)))
            {
                EmitQuantize(input.Name, input.Name);
            }

            foreach (var node in _nodes)
            {
                var isQuantized = _quantized.Contains(node);
                var weighted = isQuantized && WeightedOps.Contains(node.OpType) && node.Input.Count > 1 && _initializers.ContainsKey(node.Input[1]);
                float[]? weightScales = null;
                var activationInput = node.Input[0];
                if (weighted)
                {
                    weightScales = QuantizeWeight(node, newInitializers, emitted);
                }

                for (var slot = 0; slot < node.Input.Count; slot++)
                {
                    var name = node.Input[slot];
                    if (name.Length == 0 || (weighted && slot == 1))
                    {
                        continue;
                    }

                    if (weighted && slot == 2 && node.OpType is "Conv" or "Gemm")
                    {
                        QuantizeBias(node, _params[activationInput].Scale, weightScales!, newInitializers, emitted);
                    }
                    else if (quantizedTensors.Contains(name) && quantizedName.ContainsKey(name))
                    {
                        node.Input[slot] = EmitDequantize(name, emitted);
                    }
                    else if (isQuantized && node.OpType is "Add" or "Mul" && _initializers.TryGetValue(name, out var constant))
                    {
                        node.Input[slot] = QuantizeConstant(node, constant, newInitializers, emitted);
                    }
                }

                emitted.Add(node);
                for (var o = 0; o < node.Output.Count; o++)
                {
                    var output = node.Output[o];
                    if (!quantizedTensors.Contains(output))
                    {
                        continue;
                    }

                    var source = output;
                    if (_graphOutputs.Contains(output))
                    {
                        source = Fresh(output + "_float");
                        node.Output[o] = source;
                    }

                    EmitQuantize(output, source);
                    if (_graphOutputs.Contains(output))
                    {
                        var dq = EmitDequantize(output, finalDequantize);
                        finalDequantize[^1].Output[0] = output;
                        _names.Remove(dq);
                    }
                }
            }

            emitted.AddRange(finalDequantize);
            graph.Node.Clear();
            graph.Node.AddRange(emitted);

            var used = new HashSet<string>(emitted.SelectMany(n => n.Input), StringComparer.Ordinal);
            var kept = graph.Initializer.Where(t => used.Contains(t.Name)).ToList();
            graph.Initializer.Clear();
            graph.Initializer.AddRange(kept);
            graph.Initializer.AddRange(newInitializers);
        }

        private string? WhyFloat(NodeProto node, HashSet<NodeProto> keptLast)
        {
            if (node.Domain.Length > 0 && node.Domain != "ai.onnx")
            {
                return $"domain {node.Domain}";
            }

            if (options.KeepFloatNodes.Contains(node.Name))
            {
                return "KeepFloatNodes";
            }

            if (options.KeepFloatOpTypes.Contains(node.OpType))
            {
                return "KeepFloatOpTypes";
            }

            if (keptLast.Contains(node))
            {
                return "KeepLastLayerFloat";
            }

            switch (node.OpType)
            {
                case "Conv":
                    if (node.Input.Count < 2 || !IsFloatInitializer(node.Input[1]))
                    {
                        return "weight is not a float initializer";
                    }

                    if (node.Input.Count > 2 && node.Input[2].Length > 0 && !IsFloatInitializer(node.Input[2]))
                    {
                        return "bias is not a float initializer";
                    }

                    if (options.KeepSingleChannelConvFloat && IsSingleChannelConv(node))
                    {
                        return "KeepSingleChannelConvFloat: one input channel";
                    }

                    break;
                case "Gemm":
                    if (IntAttribute(node, "transA", 0) != 0 || FloatAttribute(node, "alpha", 1f) != 1f || FloatAttribute(node, "beta", 1f) != 1f)
                    {
                        return "Gemm with transA, alpha or beta is not quantized";
                    }

                    if (!IsFloatInitializer(node.Input[1]) || _initializers[node.Input[1]].Dims.Count != 2)
                    {
                        return "weight is not a 2-D float initializer";
                    }

                    if (node.Input.Count > 2 && node.Input[2].Length > 0
                        && !(IsFloatInitializer(node.Input[2]) && _initializers[node.Input[2]].Dims.Count == 1))
                    {
                        return "bias is not a 1-D float initializer";
                    }

                    break;
                case "MatMul":
                    if (_initializers.TryGetValue(node.Input[1], out var b) && (b.Dims.Count != 2 || b.DataType != (int)TensorElementType.Float))
                    {
                        return "weight is not a 2-D float initializer";
                    }

                    break;
                case "Add" or "Mul":
                    if (node.Input.All(_constants.Contains))
                    {
                        return "all inputs are constants";
                    }

                    if (node.Input.Any(i => _constants.Contains(i) && !IsFloatInitializer(i)))
                    {
                        return "a constant input is not a float initializer";
                    }

                    break;
                case "Reshape" or "Transpose" or "MaxPool" or "Flatten" or "Squeeze" or "Unsqueeze" or "Relu":
                    if (_constants.Contains(node.Input[0]))
                    {
                        return "input is a constant";
                    }

                    if (node.OpType == "MaxPool" && node.Output.Count > 1)
                    {
                        return "MaxPool with indices";
                    }

                    break;
            }

            return null;
        }

        private bool IsSingleChannelConv(NodeProto conv) =>
            _initializers[conv.Input[1]].Dims is [_, 1, ..] && IntAttribute(conv, "group", 1) == 1;

        private bool IsFloatInitializer(string name) =>
            _initializers.TryGetValue(name, out var t) && t.DataType == (int)TensorElementType.Float;

        private HashSet<NodeProto> LastWeightedNodes()
        {
            var result = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var pending = new Stack<string>(graph.Output.Select(o => o.Name));
            while (pending.TryPop(out var tensor))
            {
                if (!seen.Add(tensor) || !_producer.TryGetValue(tensor, out var node))
                {
                    continue;
                }

                if (WeightedOps.Contains(node.OpType))
                {
                    result.Add(node);
                    continue;
                }

                foreach (var input in node.Input.Where(i => i.Length > 0 && !_constants.Contains(i)))
                {
                    pending.Push(input);
                }
            }

            return result;
        }

        private void Index()
        {
            _producer = new(StringComparer.Ordinal);
            _consumers = new(StringComparer.Ordinal);
            foreach (var node in _nodes)
            {
                foreach (var output in node.Output.Where(o => o.Length > 0))
                {
                    _producer[output] = node;
                }

                foreach (var input in node.Input.Where(i => i.Length > 0))
                {
                    if (!_consumers.TryGetValue(input, out var list))
                    {
                        _consumers[input] = list = [];
                    }

                    if (!list.Contains(node))
                    {
                        list.Add(node);
                    }
                }
            }
        }

        /// <summary>Activation tensors to quantize, in graph order (inputs first, then node outputs).</summary>
        private HashSet<string> QuantizedTensors()
        {
            var set = new HashSet<string>(StringComparer.Ordinal);
            foreach (var node in _nodes.Where(_quantized.Contains))
            {
                foreach (var slot in ActivationSlots(node))
                {
                    if (slot < node.Input.Count && node.Input[slot].Length > 0 && !_constants.Contains(node.Input[slot]))
                    {
                        set.Add(node.Input[slot]);
                    }
                }

                // A Gemm/MatMul read only by float nodes keeps a float output: ORT runs it as QGemm or
                // MatMulIntegerToFloat with the float result (one rounding fewer, no extra node). Its output is
                // still quantized when an integer consumer reads it (that consumer's input slot adds it above).
                var output = node.Output[0];
                var floatOutput = node.OpType is "Gemm" or "MatMul" && !_graphOutputs.Contains(output);
                if (!floatOutput && (_consumers.ContainsKey(output) || _graphOutputs.Contains(output)))
                {
                    set.Add(output);
                }
            }

            return set;
        }

        private void ChooseParams(HashSet<string> tensors, IReadOnlyDictionary<string, TensorStatistics> statistics)
        {
            var ordered = graph.Input.Select(i => i.Name).Where(tensors.Contains)
                .Concat(_nodes.SelectMany(n => n.Output).Where(tensors.Contains))
                .Distinct(StringComparer.Ordinal)
                .ToList();
            var groups = new Dictionary<string, (TensorRange Observed, TensorRange Chosen)>(StringComparer.Ordinal);
            foreach (var tensor in ordered)
            {
                // A tensor a rewrite added (no statistics) takes its parameters from the tensors it shares them with.
                if (!statistics.TryGetValue(tensor, out var stats))
                {
                    continue;
                }

                var root = Find(tensor);
                var observed = new TensorRange(stats.Min, stats.Max);
                var chosen = stats.Range(options);
                if (_nonNegative.Contains(tensor))
                {
                    // A folded Relu: the Q must clamp at 0, so its zero point has to be 0.
                    chosen = new TensorRange(0f, MathF.Max(chosen.Max, 0f));
                }

                groups[root] = groups.TryGetValue(root, out var g) ? (g.Observed.Union(observed), g.Chosen.Union(chosen)) : (observed, chosen);
            }

            foreach (var tensor in ordered)
            {
                var root = Find(tensor);
                if (!groups.TryGetValue(root, out var group))
                {
                    throw new InvalidOperationException($"tensor '{tensor}' was not observed during calibration.");
                }

                var (observed, chosen) = group;
                var p = QuantParams.ForActivation(chosen, options.ActivationType);
                _params[tensor] = p;
                Report.Add(new QuantizedTensor(tensor, observed, chosen, p, root == tensor ? null : root));
            }
        }

        private float[] QuantizeWeight(NodeProto node, List<TensorProto> initializers, List<NodeProto> emitted)
        {
            var source = _initializers[node.Input[1]];
            var dims = source.Dims.ToArray();
            var axis = node.OpType switch
            {
                "Conv" => 0,
                "Gemm" => IntAttribute(node, "transB", 0) != 0 ? 0 : 1,
                _ => 1,
            };
            var (values, scales) = WeightQuantizer.PerChannel(Tensors.ToFloatArray(source), dims, axis);
            var baseName = node.Input[1];
            var quantized = Tensors.Create(Fresh(baseName + "_quantized"), values, dims);
            var scale = Tensors.Create(Fresh(baseName + "_scale"), scales, scales.Length);
            var zeroPoint = Tensors.Create(Fresh(baseName + "_zero_point"), new sbyte[scales.Length], scales.Length);
            initializers.AddRange([quantized, scale, zeroPoint]);
            var output = Fresh(baseName + "_dequantized");
            var dq = Node("DequantizeLinear", baseName + "_DequantizeLinear", [quantized.Name, scale.Name, zeroPoint.Name], output);
            dq.Attribute.Add(Attr.Int("axis", axis));
            emitted.Add(dq);
            node.Input[1] = output;
            return scales;
        }

        private void QuantizeBias(NodeProto node, float inputScale, float[] weightScales, List<TensorProto> initializers, List<NodeProto> emitted)
        {
            var source = _initializers[node.Input[2]];
            var (values, scales) = WeightQuantizer.Bias(Tensors.ToFloatArray(source), inputScale, weightScales);
            var baseName = node.Input[2];
            var dims = source.Dims.ToArray();
            var quantized = Tensors.Create(Fresh(baseName + "_quantized"), values, dims);
            var scale = Tensors.Create(Fresh(baseName + "_scale"), scales, scales.Length);
            var zeroPoint = Tensors.Create(Fresh(baseName + "_zero_point"), new int[scales.Length], scales.Length);
            initializers.AddRange([quantized, scale, zeroPoint]);
            var output = Fresh(baseName + "_dequantized");
            var dq = Node("DequantizeLinear", baseName + "_DequantizeLinear", [quantized.Name, scale.Name, zeroPoint.Name], output);
            dq.Attribute.Add(Attr.Int("axis", 0));
            emitted.Add(dq);
            node.Input[2] = output;
        }

        private string QuantizeConstant(NodeProto node, TensorProto constant, List<TensorProto> initializers, List<NodeProto> emitted)
        {
            var values = Tensors.ToFloatArray(constant);
            var range = values.Length == 0 ? new TensorRange(0, 0) : new TensorRange(values.Min(), values.Max());
            var p = QuantParams.ForActivation(range, options.ActivationType);
            var (qmin, qmax) = Activation.Limits;
            var q = values.Select(v => p.Quantize(v, qmin, qmax)).ToArray();
            var dims = constant.Dims.ToArray();
            var baseName = constant.Name;
            var quantized = Activation == IntType.UInt8
                ? Tensors.Create(Fresh(baseName + "_quantized"), q.Select(v => (byte)v).ToArray(), dims)
                : Tensors.Create(Fresh(baseName + "_quantized"), q.Select(v => (sbyte)v).ToArray(), dims);
            var (scale, zeroPoint) = ScalarParams(baseName, p, initializers);
            initializers.Add(quantized);
            var output = Fresh(baseName + "_dequantized");
            emitted.Add(Node("DequantizeLinear", baseName + "_DequantizeLinear", [quantized.Name, scale, zeroPoint], output));
            Report.Add(new QuantizedTensor(baseName, range, range, p, null));
            return output;
        }

        private readonly Dictionary<string, (string Scale, string ZeroPoint)> _scalarParams = new(StringComparer.Ordinal);

        private (string Scale, string ZeroPoint) ScaleAndZeroPoint(string tensor, QuantParams p, List<TensorProto> initializers)
        {
            if (_scalarParams.TryGetValue(tensor, out var names))
            {
                return names;
            }

            names = ScalarParams(tensor, p, initializers);
            _scalarParams[tensor] = names;
            return names;
        }

        private (string Scale, string ZeroPoint) ScalarParams(string baseName, QuantParams p, List<TensorProto> initializers)
        {
            var scale = Tensors.Create(Fresh(baseName + "_scale"), [p.Scale]);
            var zeroPoint = Activation == IntType.UInt8
                ? Tensors.Create(Fresh(baseName + "_zero_point"), [(byte)p.ZeroPoint])
                : Tensors.Create(Fresh(baseName + "_zero_point"), [(sbyte)p.ZeroPoint]);
            initializers.Add(scale);
            initializers.Add(zeroPoint);
            return (scale.Name, zeroPoint.Name);
        }

        private NodeProto Node(string opType, string name, string[] inputs, string output)
        {
            var node = new NodeProto { OpType = opType, Name = FreshNode(name) };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            return node;
        }

        private string Fresh(string name)
        {
            var candidate = name;
            for (var n = 1; !_names.Add(candidate); n++)
            {
                candidate = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name}_{n}");
            }

            return candidate;
        }

        private string FreshNode(string name)
        {
            var candidate = name;
            for (var n = 1; !_nodeNames.Add(candidate); n++)
            {
                candidate = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name}_{n}");
            }

            return candidate;
        }

        private string Find(string tensor)
        {
            while (_parent.TryGetValue(tensor, out var parent) && parent != tensor)
            {
                tensor = parent;
            }

            return tensor;
        }

        private void Union(string a, string b)
        {
            var ra = Find(a);
            var rb = Find(b);
            if (ra != rb)
            {
                // The earlier tensor (the producer side) names the group, so reports read in graph order.
                _parent[rb] = ra;
            }
        }
    }

    private readonly record struct IntType(int Min, int Max)
    {
        public static readonly IntType UInt8 = new(0, 255);
        public static readonly IntType Int8 = new(-127, 127);

        public (int Min, int Max) Limits => (Min, Max);
    }
}
