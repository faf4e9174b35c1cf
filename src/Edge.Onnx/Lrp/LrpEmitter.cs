using Edge.Onnx.Proto;
using Google.Protobuf;

namespace Edge.Onnx.Lrp;

/// <summary>Appends nodes and constants to a graph under fresh names (prefix <c>lrp/</c>).</summary>
internal sealed class LrpEmitter(GraphProto graph, long opset)
{
    private int _next;
    private readonly Dictionary<float, string> _scalars = [];
    private readonly Dictionary<string, string> _relus = [];

    public long Opset { get; } = opset;

    public string Fresh(string hint) => $"lrp/{hint}_{_next++}";

    public string Node(string op, string[] inputs, params AttributeProto[] attributes) => Nodes(op, inputs, 1, attributes)[0];

    public string[] Nodes(string op, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Fresh(op) };
        node.Input.AddRange(inputs);
        var names = new string[outputs];
        for (var i = 0; i < outputs; i++)
        {
            names[i] = Fresh(op.ToLowerInvariant());
            node.Output.Add(names[i]);
        }

        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return names;
    }

    public string Scalar(float value)
    {
        if (!_scalars.TryGetValue(value, out var name))
        {
            name = Fresh("c");
            graph.Initializer.Add(LrpTensors.Floats(name, [], [value]));
            _scalars[value] = name;
        }

        return name;
    }

    public string FloatConst(long[] dims, float[] values)
    {
        var name = Fresh("c");
        graph.Initializer.Add(LrpTensors.Floats(name, dims, values));
        return name;
    }

    public string IntConst(params long[] values)
    {
        var name = Fresh("i");
        graph.Initializer.Add(LrpTensors.Int64s(name, [values.Length], values));
        return name;
    }

    /// <summary>A 0-D int64 constant (scalar).</summary>
    public string IntConst0(long value)
    {
        var name = Fresh("i");
        graph.Initializer.Add(LrpTensors.Int64s(name, [], [value]));
        return name;
    }

    public static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    public static AttributeProto Float(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };

    public static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    public static AttributeProto Str(string name, string v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) };

    public string Add(string a, string b) => Node("Add", [a, b]);

    public string Sub(string a, string b) => Node("Sub", [a, b]);

    public string Mul(string a, string b) => Node("Mul", [a, b]);

    public string Div(string a, string b) => Node("Div", [a, b]);

    /// <summary>max(a, 0), emitted once per tensor (the input layer's ReLU is read by the projection and by z^B).</summary>
    public string Relu(string a) => _relus.TryGetValue(a, out var r) ? r : _relus[a] = Node("Relu", [a]);

    /// <summary>min(a, 0) as a − relu(a).</summary>
    public string NegPart(string a) => Sub(a, Relu(a));

    public string Reshape(string a, params long[] shape) => Node("Reshape", [a, IntConst(shape)]);

    /// <summary>z + ε·sign(z), with sign(0) = +1, so that a denominator is never within ε of zero.</summary>
    public string Stabilize(string z, float eps)
    {
        var ge = Node("GreaterOrEqual", [z, Scalar(0f)]);
        return Add(z, Node("Where", [ge, Scalar(eps), Scalar(-eps)]));
    }

    public string ReduceSum(string a, long[] axes, bool keepDims) =>
        Node("ReduceSum", [a, IntConst(axes)], Int("keepdims", keepDims ? 1 : 0));

    /// <summary>
    /// Σ over the channels of a batch-1 NCHW tensor, keeping the axis ([1, 1, H, W]), as ones[1, C] · x[C, H·W]: ONNX Runtime's
    /// MatMul runs this several times faster than its ReduceSum over axis 1.
    /// </summary>
    public string ChannelSum(string x, long[] shape, float plus = 0f)
    {
        var (c, h, w) = (shape[1], shape[2], shape[3]);
        var ones = FloatConst([1, c], [.. Enumerable.Repeat(1f, (int)c)]);
        var flat = Reshape(x, c, h * w);
        return Reshape(plus == 0f ? Node("MatMul", [ones, flat]) : Node("Gemm", [ones, flat, Scalar(plus)]), 1, 1, h, w);
    }

    public string ReduceL1(string a, long[] axes, bool keepDims) =>
        Opset >= 18
            ? Node("ReduceL1", [a, IntConst(axes)], Int("keepdims", keepDims ? 1 : 0))
            : Node("ReduceL1", [a], Ints("axes", axes), Int("keepdims", keepDims ? 1 : 0));

    public string ReduceMax(string a, long[] axes, bool keepDims) =>
        Opset >= 18
            ? Node("ReduceMax", [a, IntConst(axes)], Int("keepdims", keepDims ? 1 : 0))
            : Node("ReduceMax", [a], Ints("axes", axes), Int("keepdims", keepDims ? 1 : 0));

    /// <summary>
    /// The mean of <paramref name="x"/> over each window of <paramref name="g"/> with <paramref name="pads"/>, zero
    /// padding counted: Σ_window x / |window|. On a one-channel map ONNX Runtime leaves AveragePool in NCHW, where the
    /// same sum as a Conv with a ones kernel is padded to a 16-channel blocked Conv plus a reorder back.
    /// </summary>
    public string WindowMean(string x, WindowGeometry g, long[] pads) =>
        Node("AveragePool", [x], Ints("kernel_shape", g.Kernel), Ints("strides", g.Strides), Ints("pads", pads), Int("count_include_pad", 1));

    public string Conv(string x, string w, WindowGeometry g, long group) =>
        Node("Conv", [x, w], Ints("kernel_shape", g.Kernel), Ints("strides", g.Strides), Ints("dilations", g.Dilations), Ints("pads", g.Pads), Int("group", group));

    /// <summary>Conv(x, w) + b with a bias input (one node where Conv then Add would be two).</summary>
    public string Conv(string x, string w, string bias, WindowGeometry g, long group) =>
        Node("Conv", [x, w, bias], Ints("kernel_shape", g.Kernel), Ints("strides", g.Strides), Ints("dilations", g.Dilations), Ints("pads", g.Pads), Int("group", group));

    /// <summary>
    /// The transpose of Conv(·, w) applied to <paramref name="s"/>: for stride 1 and no dilation a plain Conv with the
    /// kernel flipped and its channel axes swapped per group (ONNX Runtime's Conv kernels are much faster than its
    /// ConvTranspose, depthwise above all); otherwise a ConvTranspose.
    /// </summary>
    public string Backward(string s, string w, float[]? values, long[] wShape, WindowGeometry g, long group)
    {
        if (g.Strides.Any(v => v != 1) || g.Dilations.Any(v => v != 1) || g.Pads.Where((p, i) => p > g.Kernel[i % 2] - 1).Any())
        {
            return ConvTranspose(s, w, g, group);
        }

        var (co, ciPer, kh, kw) = (wShape[0], wShape[1], wShape[2], wShape[3]);
        var pads = new long[] { kh - 1 - g.Pads[0], kw - 1 - g.Pads[1], kh - 1 - g.Pads[2], kw - 1 - g.Pads[3] };
        if (values is not null)
        {
            // Known weights: flip and swap at compile time, so the relevance half holds a plain initializer.
            var coPer = co / group;
            var flippedValues = new float[values.Length];
            for (var gi = 0; gi < group; gi++)
            {
                for (var o = 0; o < coPer; o++)
                {
                    for (var c = 0; c < ciPer; c++)
                    {
                        for (var i = 0; i < kh; i++)
                        {
                            for (var j = 0; j < kw; j++)
                            {
                                var src = ((((((gi * coPer) + o) * ciPer) + c) * kh) + i) * kw + j;
                                var dst = ((((((gi * ciPer) + c) * coPer) + o) * kh) + (kh - 1 - i)) * kw + (kw - 1 - j);
                                flippedValues[dst] = values[src];
                            }
                        }
                    }
                }
            }

            return Node("Conv", [s, FloatConst([ciPer * group, coPer, kh, kw], flippedValues)], Ints("kernel_shape", kh, kw), Ints("pads", pads), Int("group", group));
        }

        var grouped = Reshape(w, group, co / group, ciPer, kh, kw);
        var swapped = Node("Transpose", [grouped], Ints("perm", 0, 2, 1, 3, 4));
        var back = Reshape(swapped, ciPer * group, co / group, kh, kw);
        var flipped = Node("Slice", [back, IntConst(-1, -1), IntConst(long.MinValue, long.MinValue), IntConst(2, 3), IntConst(-1, -1)]);
        return Node("Conv", [s, flipped], Ints("kernel_shape", kh, kw), Ints("pads", pads), Int("group", group));
    }

    public string ConvTranspose(string s, string w, WindowGeometry g, long group) =>
        Node("ConvTranspose", [s, w], Ints("kernel_shape", g.Kernel), Ints("strides", g.Strides), Ints("dilations", g.Dilations), Ints("pads", g.Pads), Ints("output_padding", g.OutputPadding()), Int("group", group));
}
