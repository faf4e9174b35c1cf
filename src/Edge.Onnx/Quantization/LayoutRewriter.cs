using Edge.Onnx.Graph;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Quantization;

/// <summary>
/// Float-exact rewrites of the graph made before Q/DQ placement, each because ONNX Runtime's integer kernels run the
/// rewritten form faster (measured on the emotion model, see the README's "Rules"):
/// <list type="bullet">
/// <item><b>Space-to-depth stem</b> (only when <see cref="QuantizerOptions.KeepSingleChannelConvFloat"/> is off): a stride-2 Conv on one input channel becomes Reshape/Transpose (uint8, 2×2
/// blocks to 4 channels) and a stride-1 Conv on 4 channels. ORT's indirect symmetric conv kernel needs input channels
/// divisible by 4; with one channel it falls back to im2col + a GEMM of depth kh·kw.</item>
/// <item><b>Pooled head</b>: a Conv whose output is only averaged over all positions (ReduceMean over H, W or
/// GlobalAveragePool) becomes one Gemm over the Conv's input, each input pixel weighted by the taps that reach it.
/// Fewer multiply-adds, no per-position output rounding or clipping, and a float-output QGemm.</item>
/// <item><b>Relu branch</b>: an Add read by a Relu and by other nodes is computed twice, so the Relu folds into its own
/// copy's output QuantizeLinear; a second QLinearAdd is cheaper than the DequantizeLinear + QuantizeLinear the shared
/// output needs, and the Relu branch is rounded once instead of twice.</item>
/// </list>
/// Shapes come from calibration; rewrites that bake shapes are made only when every graph input declares static
/// non-batch dimensions.
/// </summary>
internal static class LayoutRewriter
{
    /// <summary>Largest weight of a pooled-head Gemm (elements); beyond it the Conv stays.</summary>
    internal const int MaxPooledHeadWeights = 1 << 20;

    public static List<string> Apply(ModelProto model, IReadOnlyDictionary<string, TensorStatistics> statistics, QuantizerOptions options)
    {
        var notes = new List<string>();
        var graph = model.Graph;
        var staticInputs = graph.Input.All(i => i.Type?.TensorType?.Shape is { } s && s.Dim.Skip(1).All(d => d.DimValue > 0));
        if (staticInputs)
        {
            foreach (var conv in graph.Node.Where(n => n.OpType == "Conv" && n.Domain.Length == 0).ToList())
            {
                if (!KeptFloat(conv, options) && !options.KeepSingleChannelConvFloat && SpaceToDepthStem(graph, conv, statistics) is { } note)
                {
                    notes.Add(note);
                }
            }

            foreach (var pool in graph.Node.Where(n => n.Domain.Length == 0 && n.OpType is "ReduceMean" or "GlobalAveragePool").ToList())
            {
                if (!options.KeepLastLayerFloat && PooledHead(graph, pool, statistics, options) is { } note)
                {
                    notes.Add(note);
                }
            }
        }

        if (options.FoldRelu && options.ActivationType == ActivationType.UInt8)
        {
            foreach (var add in graph.Node.Where(n => n.OpType == "Add" && n.Domain.Length == 0).ToList())
            {
                if (!KeptFloat(add, options) && ReluBranch(graph, add, options) is { } note)
                {
                    notes.Add(note);
                }
            }
        }

        return notes;
    }

    private static bool KeptFloat(NodeProto node, QuantizerOptions options) =>
        options.KeepFloatNodes.Contains(node.Name) || options.KeepFloatOpTypes.Contains(node.OpType);

    private static string? SpaceToDepthStem(GraphProto graph, NodeProto conv, IReadOnlyDictionary<string, TensorStatistics> statistics)
    {
        if (conv.Input.Count < 2 || OwnedFloatInitializer(graph, conv.Input[1]) is not { } weight || weight.Dims.Count != 4 || weight.Dims[1] != 1
            || Int(conv, "group", 1) != 1 || Ints(conv, "strides") is not [2, 2] || Ints(conv, "dilations") is not (null or [1, 1])
            || Attribute(conv, "auto_pad") is { } autoPad && autoPad.S.ToStringUtf8() is not ("" or "NOTSET")
            || Shape(statistics, conv.Input[0]) is not [_, 1, var h, var w] || h % 2 != 0 || w % 2 != 0
            || Shape(statistics, conv.Output[0]) is not [_, _, var outH, var outW])
        {
            return null;
        }

        var pads = Ints(conv, "pads") ?? [0, 0, 0, 0];
        var (kh, kw) = ((int)weight.Dims[2], (int)weight.Dims[3]);
        var (blockH, beginH, endH) = Blocked(kh, (int)pads[0], (int)h / 2, (int)outH);
        var (blockW, beginW, endW) = Blocked(kw, (int)pads[1], (int)w / 2, (int)outW);
        if (endH < 0 || endW < 0)
        {
            return null;
        }

        // Phase (dy, dx) of a 2×2 block is channel 2·dy + dx; tap (y, x) lands in block offset ⌊(y − pad)/2⌋.
        var outputs = (int)weight.Dims[0];
        var source = Tensors.ToFloatArray(weight);
        var blocked = new float[outputs * 4 * blockH * blockW];
        for (var o = 0; o < outputs; o++)
        {
            for (var y = 0; y < kh; y++)
            {
                for (var x = 0; x < kw; x++)
                {
                    var ty = y - (int)pads[0];
                    var tx = x - (int)pads[1];
                    var (by, dy) = (FloorDiv(ty, 2) + beginH, ty - (2 * FloorDiv(ty, 2)));
                    var (bx, dx) = (FloorDiv(tx, 2) + beginW, tx - (2 * FloorDiv(tx, 2)));
                    blocked[(((((o * 4) + (2 * dy) + dx) * blockH) + by) * blockW) + bx] = source[(((o * kh) + y) * kw) + x];
                }
            }
        }

        // The single-channel plane [N,1,H,W] is read as is: an NHWC → NCHW Transpose before it stays (with one channel
        // it moves no data; it tells readers such as the LRP compiler that the graph input is NHWC).
        var plane = conv.Input[0];

        var names = new Names(graph);
        var prefix = conv.Name + "/space_to_depth";
        var shape5 = names.Initializer(prefix + "/shape5", [-1, h / 2, 2, w / 2, 2]);
        var shape4 = names.Initializer(prefix + "/shape4", [-1, h / 2, w / 2, 4]);
        var split = names.Tensor(prefix + "/blocks");
        var moved = names.Tensor(prefix + "/blocks_nhwc");
        var nhwc = names.Tensor(prefix + "/nhwc");
        var nchw = names.Tensor(prefix + "/nchw");
        var index = graph.Node.IndexOf(conv);
        graph.Node.Insert(index++, Node("Reshape", names.Node(prefix + "/reshape5"), [plane, shape5], split));
        graph.Node.Insert(index++, Node("Transpose", names.Node(prefix + "/transpose"), [split], moved, Attr.Ints("perm", 0, 1, 3, 2, 4)));
        graph.Node.Insert(index++, Node("Reshape", names.Node(prefix + "/reshape4"), [moved, shape4], nhwc));
        graph.Node.Insert(index, Node("Transpose", names.Node(prefix + "/to_nchw"), [nhwc], nchw, Attr.Ints("perm", 0, 3, 1, 2)));

        conv.Input[0] = nchw;
        graph.Initializer[graph.Initializer.IndexOf(weight)] = Tensors.Create(weight.Name, blocked, outputs, 4, blockH, blockW);
        SetAttribute(conv, Attr.Ints("kernel_shape", blockH, blockW));
        SetAttribute(conv, Attr.Ints("strides", 1, 1));
        SetAttribute(conv, Attr.Ints("pads", beginH, beginW, endH, endW));
        return $"{conv.Name}: space-to-depth stem ({kh}×{kw} stride 2 on 1 channel → {blockH}×{blockW} stride 1 on 4)";
    }

    /// <summary>Block kernel size and begin/end padding (in blocks) of a stride-2 axis after 2× space-to-depth.</summary>
    private static (int Kernel, int Begin, int End) Blocked(int kernel, int padBegin, int blocks, int outputs)
    {
        var first = FloorDiv(-padBegin, 2);
        var last = FloorDiv(kernel - 1 - padBegin, 2);
        var size = last - first + 1;
        var begin = -first;
        return (size, begin, outputs - blocks - begin + size - 1);
    }

    private static string? PooledHead(GraphProto graph, NodeProto pool, IReadOnlyDictionary<string, TensorStatistics> statistics, QuantizerOptions options)
    {
        var keepDims = pool.OpType == "GlobalAveragePool" || Int(pool, "keepdims", 1) != 0;
        if (pool.OpType == "ReduceMean" && (Ints(pool, "axes") is not { } axes || pool.Input.Count > 1
            || !(axes.Order().SequenceEqual([2L, 3L]) || axes.Order().SequenceEqual([-2L, -1L]))))
        {
            return null;
        }

        var conv = graph.Node.FirstOrDefault(n => n.Output.Contains(pool.Input[0]));
        if (conv is null || conv.OpType != "Conv" || conv.Domain.Length > 0 || KeptFloat(conv, options)
            || graph.Node.Count(n => n.Input.Contains(conv.Output[0])) != 1 || graph.Output.Any(o => o.Name == conv.Output[0])
            || OwnedFloatInitializer(graph, conv.Input[1]) is not { } weight || weight.Dims.Count != 4 || Int(conv, "group", 1) != 1
            || (conv.Input.Count > 2 && conv.Input[2].Length > 0 && OwnedFloatInitializer(graph, conv.Input[2]) is null)
            || Attribute(conv, "auto_pad") is { } autoPad && autoPad.S.ToStringUtf8() is not ("" or "NOTSET")
            || Shape(statistics, conv.Input[0]) is not [_, var channels, var inH, var inW]
            || Shape(statistics, conv.Output[0]) is not [_, var outputs, var outH, var outW])
        {
            return null;
        }

        var (kh, kw) = ((int)weight.Dims[2], (int)weight.Dims[3]);
        var strides = Ints(conv, "strides") ?? [1, 1];
        var dilations = Ints(conv, "dilations") ?? [1, 1];
        var pads = Ints(conv, "pads") ?? [0, 0, 0, 0];
        var elements = outputs * channels * inH * inW;
        if (inH * inW > outH * outW * kh * kw || elements > MaxPooledHeadWeights)
        {
            return null;
        }

        // How often tap k reaches input row u over all output rows: u = i·stride − pad + k·dilation, 0 ≤ i < out.
        static int[,] Reach(int input, int output, int kernel, long stride, long pad, long dilation)
        {
            var reach = new int[input, kernel];
            for (var i = 0; i < output; i++)
            {
                for (var k = 0; k < kernel; k++)
                {
                    var u = (i * stride) - pad + (k * dilation);
                    if (u >= 0 && u < input)
                    {
                        reach[u, k]++;
                    }
                }
            }

            return reach;
        }

        var rows = Reach((int)inH, (int)outH, kh, strides[0], pads[0], dilations[0]);
        var cols = Reach((int)inW, (int)outW, kw, strides[1], pads[1], dilations[1]);
        var source = Tensors.ToFloatArray(weight);
        var dense = new float[elements];
        var positions = (double)(outH * outW);
        var k = (int)(channels * inH * inW);
        for (var o = 0; o < outputs; o++)
        {
            for (var c = 0; c < channels; c++)
            {
                for (var u = 0; u < inH; u++)
                {
                    for (var v = 0; v < inW; v++)
                    {
                        double sum = 0;
                        for (var y = 0; y < kh; y++)
                        {
                            for (var x = 0; x < kw; x++)
                            {
                                var n = rows[u, y] * cols[v, x];
                                if (n != 0)
                                {
                                    sum += n * (double)source[(((((o * channels) + c) * kh) + y) * kw) + x];
                                }
                            }
                        }

                        // Channels-last order: ORT's channels-last integer kernels hand the tensor over as NHWC.
                        dense[(o * k) + (int)((((u * inW) + v) * channels) + c)] = (float)(sum / positions);
                    }
                }
            }
        }

        var names = new Names(graph);
        var prefix = conv.Name + "/pooled";
        var weightName = names.Initializer(prefix + "/W", dense, outputs, k);
        var flatShape = names.Initializer(prefix + "/shape", [-1, k]);
        var nhwc = names.Tensor(prefix + "/nhwc");
        var flat = names.Tensor(prefix + "/flat");
        var gemmOutput = keepDims ? names.Tensor(prefix + "/logits") : pool.Output[0];
        var inputs = conv.Input.Count > 2 && conv.Input[2].Length > 0 ? new[] { flat, weightName, conv.Input[2] } : [flat, weightName];
        var replacement = new List<NodeProto>
        {
            Node("Transpose", names.Node(prefix + "/to_nhwc"), [conv.Input[0]], nhwc, Attr.Ints("perm", 0, 2, 3, 1)),
            Node("Reshape", names.Node(prefix + "/flatten"), [nhwc, flatShape], flat),
            Node("Gemm", names.Node(prefix + "/gemm"), inputs, gemmOutput, Attr.Int("transB", 1)),
        };
        if (keepDims)
        {
            var shape = names.Initializer(prefix + "/pooled_shape", [-1, outputs, 1, 1]);
            replacement.Add(Node("Reshape", names.Node(prefix + "/unflatten"), [gemmOutput, shape], pool.Output[0]));
        }

        var index = graph.Node.IndexOf(conv);
        graph.Node.Remove(conv);
        graph.Node.Remove(pool);
        for (var i = 0; i < replacement.Count; i++)
        {
            graph.Node.Insert(index + i, replacement[i]);
        }

        graph.Initializer.Remove(weight);
        return $"{conv.Name} + {pool.Name}: pooled head ({kh}×{kw} conv on {inH}×{inW} then mean → Gemm over {k} inputs)";
    }

    private static string? ReluBranch(GraphProto graph, NodeProto add, QuantizerOptions options)
    {
        var output = add.Output[0];
        var consumers = graph.Node.Where(n => n.Input.Contains(output)).ToList();
        var relus = consumers.Where(n => n.OpType == "Relu" && n.Domain.Length == 0 && !KeptFloat(n, options)).ToList();
        if (relus.Count != 1 || consumers.Count < 2 || graph.Output.Any(o => o.Name == output))
        {
            return null;
        }

        var names = new Names(graph);
        var copy = add.Clone();
        copy.Name = names.Node(add.Name + "/relu_branch");
        copy.Output[0] = names.Tensor(output + "/relu_branch");
        relus[0].Input[relus[0].Input.IndexOf(output)] = copy.Output[0];
        graph.Node.Insert(graph.Node.IndexOf(relus[0]), copy);
        return $"{add.Name}: computed again for {relus[0].Name} (Relu branch)";
    }

    private static int FloorDiv(int a, int b) => (int)Math.Floor((double)a / b);

    private static IReadOnlyList<long>? Shape(IReadOnlyDictionary<string, TensorStatistics> statistics, string tensor) =>
        statistics.TryGetValue(tensor, out var s) ? s.Shape : null;

    private static TensorProto? OwnedFloatInitializer(GraphProto graph, string name)
    {
        var tensor = graph.Initializer.FirstOrDefault(t => t.Name == name);
        return tensor is { DataType: (int)TensorElementType.Float } && graph.Node.Count(n => n.Input.Contains(name)) == 1 ? tensor : null;
    }

    private static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    private static long Int(NodeProto node, string name, long fallback) => Attribute(node, name) is { } a ? a.I : fallback;

    private static long[]? Ints(NodeProto node, string name) => Attribute(node, name) is { } a ? [.. a.Ints] : null;

    private static void SetAttribute(NodeProto node, AttributeProto value)
    {
        var index = node.Attribute.ToList().FindIndex(a => a.Name == value.Name);
        if (index >= 0)
        {
            node.Attribute[index] = value;
        }
        else
        {
            node.Attribute.Add(value);
        }
    }

    private static NodeProto Node(string opType, string name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        return node;
    }

    /// <summary>Fresh tensor, node and initializer names for one rewrite.</summary>
    private sealed class Names(GraphProto graph)
    {
        private readonly HashSet<string> _tensors = new(
            graph.Input.Select(i => i.Name).Concat(graph.Output.Select(o => o.Name)).Concat(graph.Initializer.Select(t => t.Name))
                .Concat(graph.Node.SelectMany(n => n.Output)),
            StringComparer.Ordinal);

        private readonly HashSet<string> _nodes = new(graph.Node.Select(n => n.Name), StringComparer.Ordinal);

        public string Tensor(string name) => Claim(_tensors, name);

        public string Node(string name) => Claim(_nodes, name);

        public string Initializer(string name, long[] values)
        {
            var claimed = Tensor(name);
            graph.Initializer.Add(Tensors.Create(claimed, values, values.Length));
            return claimed;
        }

        public string Initializer(string name, float[] values, params long[] dims)
        {
            var claimed = Tensor(name);
            graph.Initializer.Add(Tensors.Create(claimed, values, dims));
            return claimed;
        }

        private static string Claim(HashSet<string> taken, string name)
        {
            var candidate = name;
            for (var n = 1; !taken.Add(candidate); n++)
            {
                candidate = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name}_{n}");
            }

            return candidate;
        }
    }
}
