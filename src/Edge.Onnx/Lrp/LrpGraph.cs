using Edge.Onnx.Proto;

namespace Edge.Onnx.Lrp;

/// <summary>2-D window geometry of a Conv or pool node with every padding made explicit.</summary>
internal sealed record WindowGeometry(long[] Kernel, long[] Strides, long[] Dilations, long[] Pads, long[] InSize, long[] OutSize)
{
    /// <summary>ConvTranspose output_padding that brings the transposed window back to exactly <see cref="InSize"/>.</summary>
    public long[] OutputPadding()
    {
        var op = new long[2];
        for (var i = 0; i < 2; i++)
        {
            var natural = (Strides[i] * (OutSize[i] - 1)) + ((Kernel[i] - 1) * Dilations[i]) + 1 - Pads[i] - Pads[i + 2];
            op[i] = InSize[i] - natural;
        }

        return op;
    }
}

/// <summary>
/// What the compiler knows about a scoring graph: producers, consumers, constants, static shapes (batch fixed
/// to 1) and which tensors are provably non-negative. Refuses ops whose shape it cannot infer.
/// </summary>
internal sealed class LrpGraph
{
    private static readonly HashSet<string> PassThroughOps = ["Relu", "Identity", "Dropout", "QuantizeLinear", "DequantizeLinear", "Clip"];

    public LrpGraph(GraphProto graph)
    {
        Graph = graph;
        foreach (var init in graph.Initializer)
        {
            Constants[init.Name] = init;
            Shapes[init.Name] = [.. init.Dims];
        }

        var input = graph.Input.FirstOrDefault(i => !Constants.ContainsKey(i.Name))
            ?? throw new InvalidOperationException("the graph has no (non-initializer) input");
        InputName = input.Name;
        var dims = input.Type.TensorType.Shape.Dim;
        var inShape = new long[dims.Count];
        for (var i = 0; i < dims.Count; i++)
        {
            inShape[i] = dims[i].HasDimValue && dims[i].DimValue > 0 ? dims[i].DimValue : (i == 0 ? 1 : throw new InvalidOperationException($"input dimension {i} of '{input.Name}' is not fixed"));
        }

        inShape[0] = 1;
        Shapes[InputName] = inShape;
        NonNegative[InputName] = false;

        foreach (var node in graph.Node)
        {
            foreach (var o in node.Output)
            {
                Producers[o] = node;
            }

            foreach (var i in node.Input)
            {
                if (!Consumers.TryGetValue(i, out var list))
                {
                    Consumers[i] = list = [];
                }

                list.Add(node);
            }

            Infer(node);
            if (node.OpType == "DequantizeLinear" && !IsConstant(node.Input[0]))
            {
                // A QDQ model dequantizes a tensor once per consumer; the copies hold the same values.
                var key = string.Join("\n", node.Input) + "\n" + AttrInt(node, "axis", 1);
                if (!_firstDequantized.TryAdd(key, node.Output[0]))
                {
                    _sameValues[node.Output[0]] = _firstDequantized[key];
                }
            }
        }
    }

    private readonly Dictionary<string, string> _firstDequantized = [];
    private readonly Dictionary<string, string> _sameValues = [];

    /// <summary>
    /// The tensor to read <paramref name="tensor"/>'s values from: the first DequantizeLinear of the same quantized tensor
    /// when <paramref name="tensor"/> is another copy, so the explainer dequantizes it once. Relevance still follows
    /// <paramref name="tensor"/> itself.
    /// </summary>
    public string ValueOf(string tensor) => _sameValues.GetValueOrDefault(tensor, tensor);

    public GraphProto Graph { get; }

    public string InputName { get; }

    public Dictionary<string, TensorProto> Constants { get; } = [];

    /// <summary>Tensors computed only from constants (weights behind DequantizeLinear, Constant nodes).</summary>
    public HashSet<string> Derived { get; } = [];

    public Dictionary<string, long[]> Shapes { get; } = [];

    public Dictionary<string, bool> NonNegative { get; } = [];

    public Dictionary<string, NodeProto> Producers { get; } = [];

    public Dictionary<string, List<NodeProto>> Consumers { get; } = [];

    public bool IsConstant(string name) => name.Length == 0 || Constants.ContainsKey(name) || Derived.Contains(name);

    public long[] Shape(string name) =>
        Shapes.TryGetValue(name, out var s) ? s : throw new InvalidOperationException($"no shape known for tensor '{name}'");

    public static AttributeProto? Attr(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    public static long AttrInt(NodeProto node, string name, long fallback) => Attr(node, name) is { } a ? a.I : fallback;

    public static float AttrFloat(NodeProto node, string name, float fallback) => Attr(node, name) is { } a ? a.F : fallback;

    public static long[]? AttrInts(NodeProto node, string name) => Attr(node, name) is { } a ? [.. a.Ints] : null;

    public static string AttrString(NodeProto node, string name, string fallback) => Attr(node, name) is { } a ? a.S.ToStringUtf8() : fallback;

    public long[] ConstInts(string name)
    {
        if (Constants.TryGetValue(name, out var t))
        {
            return LrpTensors.ReadInt64s(t);
        }

        throw new InvalidOperationException($"tensor '{name}' must be a constant initializer");
    }

    /// <summary>Conv/MaxPool/AveragePool window geometry on an NCHW input.</summary>
    public WindowGeometry Window(NodeProto node, long[] kernel)
    {
        var inShape = Shape(node.Input[0]);
        if (inShape.Length != 4)
        {
            throw new LrpUnsupportedOperatorException(node.OpType, node.Name, $"only 2-D windows on NCHW tensors are supported, input is {inShape.Length}-D");
        }

        var strides = AttrInts(node, "strides") ?? [1, 1];
        var dil = AttrInts(node, "dilations") ?? [1, 1];
        var autoPad = AttrString(node, "auto_pad", "NOTSET");
        var ceil = AttrInt(node, "ceil_mode", 0) != 0;
        long[] inSize = [inShape[2], inShape[3]];
        var pads = new long[4];
        var outSize = new long[2];
        for (var i = 0; i < 2; i++)
        {
            var eff = ((kernel[i] - 1) * dil[i]) + 1;
            if (autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                outSize[i] = (inSize[i] + strides[i] - 1) / strides[i];
                var total = Math.Max(0, ((outSize[i] - 1) * strides[i]) + eff - inSize[i]);
                var small = total / 2;
                (pads[i], pads[i + 2]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
            else
            {
                if (autoPad == "NOTSET")
                {
                    var p = AttrInts(node, "pads") ?? [0, 0, 0, 0];
                    pads[i] = p[i];
                    pads[i + 2] = p[i + 2];
                }

                var span = inSize[i] + pads[i] + pads[i + 2] - eff;
                outSize[i] = (ceil ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
            }
        }

        return new WindowGeometry(kernel, strides, dil, pads, inSize, outSize);
    }

    private void Infer(NodeProto node)
    {
        var op = node.OpType;
        if (node.Domain.Length > 0 && node.Domain != "ai.onnx")
        {
            throw new LrpUnsupportedOperatorException(op, node.Name, $"domain '{node.Domain}' is not supported");
        }

        if (op == "Constant")
        {
            var value = Attr(node, "value")?.T ?? throw new LrpUnsupportedOperatorException(op, node.Name, "only tensor-valued Constant nodes are supported");
            var t = value.Clone();
            t.Name = node.Output[0];
            Constants[t.Name] = t;
            Shapes[t.Name] = [.. t.Dims];
            return;
        }

        if (node.Input.Where(i => i.Length > 0).All(IsConstant))
        {
            // Weight preprocessing (DequantizeLinear of an int8 initializer, a transposed constant, ...).
            foreach (var o in node.Output)
            {
                Derived.Add(o);
            }
        }

        var x = node.Input.Count > 0 ? node.Input[0] : "";
        var y = node.Output[0];
        long[] xs = x.Length > 0 && Shapes.TryGetValue(x, out var s0) ? s0 : [];
        bool Nn(string t) => NonNegative.TryGetValue(t, out var b) && b;

        switch (op)
        {
            case "Relu":
                Set(y, xs, true);
                break;
            case "Clip":
                Set(y, xs, Nn(x) || (node.Input.Count > 1 && node.Input[1].Length > 0 && IsConstant(node.Input[1]) && Constants.TryGetValue(node.Input[1], out var lo) && LrpTensors.ReadFloats(lo)[0] >= 0));
                break;
            case "Identity" or "Dropout":
                Set(y, xs, Nn(x));
                break;
            case "DequantizeLinear":
                Set(y, xs, Nn(x) || ZeroPointAtTypeMinimum(node));
                break;
            case "QuantizeLinear":
                Set(y, xs, Nn(x));
                break;
            case "Conv":
                {
                    var w = Shape(node.Input[1]);
                    var g = Window(node, AttrInts(node, "kernel_shape") ?? [w[2], w[3]]);
                    Set(y, [xs[0], w[0], g.OutSize[0], g.OutSize[1]], false);
                    break;
                }

            case "MaxPool" or "AveragePool":
                {
                    var k = AttrInts(node, "kernel_shape") ?? throw new LrpUnsupportedOperatorException(op, node.Name, "kernel_shape missing");
                    var g = Window(node, k);
                    Set(y, [xs[0], xs[1], g.OutSize[0], g.OutSize[1]], Nn(x));
                    break;
                }

            case "GlobalAveragePool":
                Set(y, [xs[0], xs[1], 1, 1], Nn(x));
                break;
            case "ReduceMean" or "ReduceSum":
                {
                    var axes = ReduceAxes(node, xs.Length);
                    var keep = AttrInt(node, "keepdims", 1) != 0;
                    var outShape = new List<long>();
                    for (var i = 0; i < xs.Length; i++)
                    {
                        if (!axes.Contains(i))
                        {
                            outShape.Add(xs[i]);
                        }
                        else if (keep)
                        {
                            outShape.Add(1);
                        }
                    }

                    Set(y, [.. outShape], Nn(x));
                    break;
                }

            case "Add" or "Sub" or "Mul" or "Div":
                {
                    var a = Shape(node.Input[0]);
                    var b = Shape(node.Input[1]);
                    Set(y, Broadcast(a, b), op is "Add" or "Mul" or "Div" && Nn(node.Input[0]) && (Nn(node.Input[1]) || (IsConstant(node.Input[1]) && AllNonNegative(node.Input[1]))) && op != "Sub");
                    break;
                }

            case "Transpose":
                {
                    var perm = AttrInts(node, "perm") ?? [.. Enumerable.Range(0, xs.Length).Reverse().Select(i => (long)i)];
                    Set(y, [.. perm.Select(p => xs[p])], Nn(x));
                    break;
                }

            case "Reshape":
                {
                    var target = ConstInts(node.Input[1]);
                    var outShape = new long[target.Length];
                    var total = LrpTensors.Product(xs);
                    var known = 1L;
                    var minus = -1;
                    for (var i = 0; i < target.Length; i++)
                    {
                        outShape[i] = target[i] == 0 ? xs[i] : target[i];
                        if (outShape[i] == -1)
                        {
                            minus = i;
                        }
                        else
                        {
                            known *= outShape[i];
                        }
                    }

                    if (minus >= 0)
                    {
                        outShape[minus] = total / known;
                    }

                    Set(y, outShape, Nn(x));
                    break;
                }

            case "Flatten":
                {
                    var axis = (int)AttrInt(node, "axis", 1);
                    axis = axis < 0 ? axis + xs.Length : axis;
                    Set(y, [LrpTensors.Product(xs.AsSpan(0, axis)), LrpTensors.Product(xs.AsSpan(axis))], Nn(x));
                    break;
                }

            case "Squeeze" or "Unsqueeze":
                {
                    var axes = AttrInts(node, "axes") ?? (node.Input.Count > 1 ? ConstInts(node.Input[1]) : null);
                    var list = xs.ToList();
                    if (op == "Squeeze")
                    {
                        var norm = axes?.Select(a => a < 0 ? a + xs.Length : a).ToHashSet();
                        list = [.. xs.Where((d, i) => norm is null ? d != 1 : !norm.Contains(i))];
                    }
                    else
                    {
                        var rank = xs.Length + axes!.Length;
                        foreach (var a in axes.Select(a => a < 0 ? a + rank : a).Order())
                        {
                            list.Insert((int)a, 1);
                        }
                    }

                    Set(y, [.. list], Nn(x));
                    break;
                }

            case "MatMul":
                {
                    var b = Shape(node.Input[1]);
                    Set(y, [.. xs[..^1], b[^1]], false);
                    break;
                }

            case "Gemm":
                {
                    var b = Shape(node.Input[1]);
                    var transB = AttrInt(node, "transB", 0) != 0;
                    Set(y, [xs[0], transB ? b[0] : b[1]], false);
                    break;
                }

            case "Softmax":
                Set(y, xs, true);
                break;
            case "BatchNormalization":
                Set(y, xs, false);
                break;
            default:
                if (Derived.Contains(y) && op is "Cast" or "Neg" or "Abs")
                {
                    Set(y, xs, false);
                    break;
                }

                throw new LrpUnsupportedOperatorException(op, node.Name, "no LRP rule for this operator");
        }
    }

    public HashSet<int> ReduceAxes(NodeProto node, int rank)
    {
        var axes = AttrInts(node, "axes") ?? (node.Input.Count > 1 && node.Input[1].Length > 0 ? ConstInts(node.Input[1]) : null);
        return axes is null ? [.. Enumerable.Range(0, rank)] : [.. axes.Select(a => (int)(a < 0 ? a + rank : a))];
    }

    /// <summary>(q − zp)·scale ≥ 0 for every q when zp is the integer type's minimum (uint8 0, int8 −128) and scale ≥ 0.</summary>
    private bool ZeroPointAtTypeMinimum(NodeProto dq)
    {
        if (dq.Input.Count < 3 || dq.Input[2].Length == 0 || !Constants.TryGetValue(dq.Input[2], out var zp) || !Constants.TryGetValue(dq.Input[1], out var scale)
            || scale.DataType != (int)TensorProto.Types.DataType.Float || LrpTensors.ReadFloats(scale).Any(v => v < 0))
        {
            return false;
        }

        var min = (TensorProto.Types.DataType)zp.DataType switch
        {
            TensorProto.Types.DataType.Uint8 => 0L,
            TensorProto.Types.DataType.Int8 => sbyte.MinValue,
            _ => long.MaxValue,
        };
        return min != long.MaxValue && LrpTensors.ReadIntegers(zp).All(v => v == min);
    }

    private bool AllNonNegative(string name) =>
        Constants.TryGetValue(name, out var t) && t.DataType == (int)TensorProto.Types.DataType.Float && LrpTensors.ReadFloats(t).All(v => v >= 0);

    private void Set(string name, long[] shape, bool nonNegative)
    {
        Shapes[name] = shape;
        NonNegative[name] = nonNegative;
    }

    private static long[] Broadcast(long[] a, long[] b)
    {
        var rank = Math.Max(a.Length, b.Length);
        var r = new long[rank];
        for (var i = 0; i < rank; i++)
        {
            var da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            var db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            r[i] = Math.Max(da, db);
        }

        return r;
    }

    public static bool IsPassThrough(string op) => PassThroughOps.Contains(op);
}
