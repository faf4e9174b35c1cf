using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Tests.Lrp;

/// <summary>A dense float tensor for the reference: row-major, batch 1.</summary>
internal sealed record RefTensor(int[] Shape, float[] Data)
{
    public static RefTensor Zeros(int[] shape) => new(shape, new float[shape.Aggregate(1, (p, d) => p * d)]);
}

/// <summary>
/// The oracle: the same LRP rules as <see cref="LrpCompiler"/>, written as plain loops over the scoring graph
/// (no ONNX Runtime, no shared code with the compiler). Forward pass, then one relevance pass per target row.
/// </summary>
internal sealed class ReferenceLrp(ModelProto model, LrpOptions options)
{
    private readonly Dictionary<string, RefTensor> _values = [];
    private readonly Dictionary<string, float[]> _relevance = [];
    private readonly Dictionary<string, NodeProto> _producer = [];
    private readonly Dictionary<string, List<NodeProto>> _consumers = [];
    private string _input = "";

    public float[] Logits { get; private set; } = [];

    /// <summary>Relevance of the input, summed over channels (NCHW or NHWC as the graph reads it), row-major H×W.</summary>
    public float[] Explain(float[] input, int[] inputShape, float[] target)
    {
        var graph = model.Graph.Clone();
        LrpCompiler.FoldBatchNorm(graph);
        _values.Clear();
        _relevance.Clear();
        foreach (var init in graph.Initializer)
        {
            _values[init.Name] = new RefTensor([.. init.Dims.Select(d => (int)d)], init.DataType == 1 ? Tensors.ToFloatArray(init) : [.. Tensors.ToInt64Array(init).Select(v => (float)v)]);
        }

        _input = graph.Input.First(i => !_values.ContainsKey(i.Name)).Name;
        _values[_input] = new RefTensor(inputShape, input);
        foreach (var n in graph.Node)
        {
            foreach (var o in n.Output)
            {
                _producer[o] = n;
            }

            foreach (var i in n.Input)
            {
                (_consumers.TryGetValue(i, out var l) ? l : _consumers[i] = []).Add(n);
            }

            Forward(n);
        }

        var last = _producer[graph.Output[0].Name];
        var head = new HashSet<NodeProto>();
        while (last.OpType == "Identity")
        {
            head.Add(last);
            last = _producer[last.Input[0]];
        }

        head.Add(last);
        var logitsName = last.OpType == "Softmax" ? last.Input[0] : last.Output[0];
        Logits = _values[logitsName].Data;
        var t = target;
        if (t.All(v => v == 0))
        {
            t = new float[Logits.Length];
            t[Array.IndexOf(Logits, Logits.Max())] = 1;
        }

        _relevance[logitsName] = [.. Logits.Select((l, i) => l * t[i])];
        var nodes = graph.Node.ToList();
        for (var i = nodes.Count - 1; i >= 0; i--)
        {
            var n = nodes[i];
            if (head.Contains(n) && last.OpType == "Softmax")
            {
                continue;
            }

            if (!_relevance.TryGetValue(n.Output[0], out var r))
            {
                continue;
            }

            if (options.Mode == LrpMode.Reduced && n.Output[0] == options.StopAt)
            {
                return Project(n.Output[0], r, nodes, i);
            }

            Backward(n, r);
        }

        var rin = _relevance[_input];
        var nhwc = _consumers[_input] is [{ OpType: "Transpose" } tr] && Ints(tr, "perm") is [0, 3, 1, 2];
        var s = inputShape;
        var (h, w, c) = nhwc ? (s[1], s[2], s[3]) : (s[2], s[3], s[1]);
        var map = new float[h * w];
        for (var ci = 0; ci < c; ci++)
        {
            for (var p = 0; p < h * w; p++)
            {
                map[p] += nhwc ? rin[(p * c) + ci] : rin[(ci * h * w) + p];
            }
        }

        return map;
    }

    private float[] Project(string stop, float[] r, List<NodeProto> nodes, int index)
    {
        var s = _values[stop].Shape;
        var first = new float[s[2] * s[3]];
        for (var c = 0; c < s[1]; c++)
        {
            for (var p = 0; p < first.Length; p++)
            {
                first[p] += r[(c * first.Length) + p];
            }
        }

        // Channel-summed maps waiting at each tensor (H×W of that tensor), walked backwards from the stop.
        var pending = new Dictionary<string, float[]> { [stop] = first };
        void Give(string tensor, float[] m)
        {
            if (pending.TryGetValue(tensor, out var have))
            {
                for (var i = 0; i < m.Length; i++)
                {
                    have[i] += m[i];
                }
            }
            else
            {
                pending[tensor] = m;
            }
        }

        float[] ChannelSum(string tensor, Func<float, float> f)
        {
            var v = _values[tensor];
            var sum = new float[v.Shape[2] * v.Shape[3]];
            for (var i = 0; i < v.Data.Length; i++)
            {
                sum[i % sum.Length] += f(v.Data[i]);
            }

            return sum;
        }

        var start = index;
        var inputConv = nodes.Take(index).FirstOrDefault(n => n.OpType == "Conv" && IsInputConv(n));
        if (options.Projection == LrpProjection.Direct && inputConv is not null)
        {
            // One z-rule step to the input layer's output y through the path weights, then the input layer's rule.
            var y = _values[inputConv.Output[0]];
            var hw = y.Shape[2] * y.Shape[3];
            var guide = new float[hw];
            for (var j = 0; j < y.Data.Length; j++)
            {
                guide[j % hw] += Math.Max(0f, y.Data[j]);
            }

            var back = new float[hw];
            for (var u = 0; u < first.Length; u++)
            {
                var path = PathWeights(stop, u, inputConv.Output[0], nodes, index);
                var z = 0f;
                for (var p = 0; p < hw; p++)
                {
                    z += path[p] * (guide[p] + options.Stabilizer);
                }

                for (var p = 0; p < hw; p++)
                {
                    back[p] += path[p] * first[u] / z;
                }
            }

            var shared = new float[y.Data.Length];
            for (var j = 0; j < shared.Length; j++)
            {
                shared[j] = Math.Max(0f, y.Data[j]) * back[j % hw];
            }

            var rin = ConvBackward(inputConv, shared);
            var x0 = inputConv.Input[0];
            var inHw = rin.Length / _values[x0].Shape[1];
            var summed = new float[inHw];
            for (var j = 0; j < rin.Length; j++)
            {
                summed[j % inHw] += rin[j];
            }

            pending = new Dictionary<string, float[]> { [x0] = summed };
            start = nodes.IndexOf(inputConv) - 1;
        }

        for (var i = start; i >= 0; i--)
        {
            var n = nodes[i];
            if (!pending.Remove(n.Output[0], out var map))
            {
                continue;
            }

            var x = n.Input.First(v => !IsConst(v));
            if (n.OpType == "Conv" && options.InputBounds && IsInputConv(n))
            {
                var y = _values[n.Output[0]];
                var hw = y.Shape[2] * y.Shape[3];
                var shared = new float[y.Data.Length];
                for (var p = 0; p < hw; p++)
                {
                    var total = 0f;
                    for (var c = 0; c < y.Shape[1]; c++)
                    {
                        total += Math.Max(0f, y.Data[(c * hw) + p]);
                    }

                    for (var c = 0; c < y.Shape[1]; c++)
                    {
                        shared[(c * hw) + p] = map[p] * Math.Max(0f, y.Data[(c * hw) + p]) / (total + options.Stabilizer);
                    }
                }

                var rin = ConvBackward(n, shared);
                var inHw = rin.Length / _values[x].Shape[1];
                var next = new float[inHw];
                for (var j = 0; j < rin.Length; j++)
                {
                    next[j % inHw] += rin[j];
                }

                Give(x, next);
            }
            else if (n.OpType is "Conv" or "MaxPool" or "AveragePool")
            {
                var xs = _values[x].Shape;
                var k = n.OpType == "Conv" ? (Ints(n, "kernel_shape") ?? [_values[n.Input[1]].Shape[2], _values[n.Input[1]].Shape[3]]) : Ints(n, "kernel_shape")!;
                var geo = Geometry(n, xs, k);
                var next = new float[xs[2] * xs[3]];
                if (k.All(v => v == 1) && geo.PadTop == 0 && geo.PadLeft == 0)
                {
                    // 1×1: each output's map goes to the one input it read (the stride grid).
                    for (var oy = 0; oy < geo.OutH; oy++)
                    {
                        for (var ox = 0; ox < geo.OutW; ox++)
                        {
                            next[(oy * geo.S[0] * xs[3]) + (ox * geo.S[1])] += map[(oy * geo.OutW) + ox];
                        }
                    }

                    Give(x, next);
                    continue;
                }

                if (!options.ProjectStrideOneWindows && geo.S.All(v => v == 1) && geo.OutH == xs[2] && geo.OutW == xs[3])
                {
                    Give(x, map);
                    continue;
                }

                // z-rule on the channel-summed positive activation, ε added at every pixel.
                var act = ChannelSum(x, v => Math.Max(0f, v)).Select(v => v + options.Stabilizer).ToArray();
                for (var oy = 0; oy < geo.OutH; oy++)
                {
                    for (var ox = 0; ox < geo.OutW; ox++)
                    {
                        var cells = Window(geo, xs, oy, ox).ToList();
                        var z = cells.Sum(c => act[(c.Item1 * xs[3]) + c.Item2]);
                        foreach (var (iy, ix) in cells)
                        {
                            next[(iy * xs[3]) + ix] += act[(iy * xs[3]) + ix] * map[(oy * geo.OutW) + ox] / z;
                        }
                    }
                }

                Give(x, next);
            }
            else if (n.OpType == "Add" && options.ProjectBothBranches && !IsConst(n.Input[0]) && !IsConst(n.Input[1]))
            {
                // The residual rule on channel sums.
                var absolute = options.AddRule == LrpAddRule.Absolute;
                var sa = ChannelSum(n.Input[0], v => absolute ? Math.Abs(v) : v);
                var sb = ChannelSum(n.Input[1], v => absolute ? Math.Abs(v) : v);
                var den = sa.Select((v, j) => absolute ? v + sb[j] + options.Stabilizer : Stab(v + sb[j], options.Epsilon)).ToArray();
                Give(n.Input[0], [.. map.Select((m, j) => sa[j] * m / den[j])]);
                Give(n.Input[1], [.. map.Select((m, j) => sb[j] * m / den[j])]);
            }
            else
            {
                Give(x, map);
            }
        }

        return pending[_input];
    }

    /// <summary>The weight of each cell of <paramref name="y"/> on the flat paths from cell <paramref name="unit"/> of the stop.</summary>
    private float[] PathWeights(string stop, int unit, string y, List<NodeProto> nodes, int index)
    {
        var s = _values[stop].Shape;
        var start = new float[s[2] * s[3]];
        start[unit] = 1f;
        var maps = new Dictionary<string, float[]> { [stop] = start };
        void Give(string tensor, float[] m)
        {
            if (maps.TryGetValue(tensor, out var have))
            {
                for (var i = 0; i < m.Length; i++)
                {
                    have[i] += m[i];
                }
            }
            else
            {
                maps[tensor] = m;
            }
        }

        for (var i = index; i >= 0; i--)
        {
            var n = nodes[i];
            if (n.Output[0] == y)
            {
                return maps[y];
            }

            if (!maps.Remove(n.Output[0], out var map))
            {
                continue;
            }

            var x = n.Input.First(v => !IsConst(v));
            if (n.OpType is "Conv" or "MaxPool" or "AveragePool")
            {
                var xs = _values[x].Shape;
                var k = n.OpType == "Conv" ? (Ints(n, "kernel_shape") ?? [_values[n.Input[1]].Shape[2], _values[n.Input[1]].Shape[3]]) : Ints(n, "kernel_shape")!;
                var geo = Geometry(n, xs, k);
                if (!options.ProjectStrideOneWindows && geo.S.All(v => v == 1) && geo.OutH == xs[2] && geo.OutW == xs[3])
                {
                    Give(x, map);
                    continue;
                }

                var next = new float[xs[2] * xs[3]];
                for (var oy = 0; oy < geo.OutH; oy++)
                {
                    for (var ox = 0; ox < geo.OutW; ox++)
                    {
                        var cells = Window(geo, xs, oy, ox).ToList();
                        foreach (var (iy, ix) in cells)
                        {
                            next[(iy * xs[3]) + ix] += map[(oy * geo.OutW) + ox] / cells.Count;
                        }
                    }
                }

                Give(x, next);
            }
            else if (n.OpType == "Add" && options.ProjectBothBranches && !IsConst(n.Input[0]) && !IsConst(n.Input[1]))
            {
                Give(n.Input[0], [.. map.Select(v => v / 2)]);
                Give(n.Input[1], [.. map.Select(v => v / 2)]);
            }
            else
            {
                Give(x, map);
            }
        }

        throw new InvalidOperationException($"no path from '{stop}' to '{y}'");
    }

    private bool IsConst(string name) => !_producer.ContainsKey(name) && name != _input || (_producer.TryGetValue(name, out var p) && p.Input.All(IsConst));

    private static int[]? Ints(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? [.. a.Ints.Select(v => (int)v)] : null;

    private static long Int(NodeProto n, string name, long fallback) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    private static string Str(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name)?.S.ToStringUtf8() ?? "NOTSET";

    private sealed record Geo(int[] K, int[] S, int[] D, int PadTop, int PadLeft, int OutH, int OutW);

    private static Geo Geometry(NodeProto n, int[] xs, int[] k)
    {
        var s = Ints(n, "strides") ?? [1, 1];
        var d = Ints(n, "dilations") ?? [1, 1];
        var auto = Str(n, "auto_pad");
        int[] size = [xs[2], xs[3]];
        var pad = new int[2];
        var outSize = new int[2];
        for (var i = 0; i < 2; i++)
        {
            var span = ((k[i] - 1) * d[i]) + 1;
            if (auto.StartsWith("SAME", StringComparison.Ordinal))
            {
                outSize[i] = (int)Math.Ceiling(size[i] / (double)s[i]);
                var total = Math.Max(0, ((outSize[i] - 1) * s[i]) + span - size[i]);
                pad[i] = auto == "SAME_UPPER" ? total / 2 : total - (total / 2);
            }
            else
            {
                var p = auto == "VALID" ? [0, 0, 0, 0] : Ints(n, "pads") ?? [0, 0, 0, 0];
                pad[i] = p[i];
                outSize[i] = ((size[i] + p[i] + p[i + 2] - span) / s[i]) + 1;
            }
        }

        return new Geo(k, s, d, pad[0], pad[1], outSize[0], outSize[1]);
    }

    /// <summary>The in-bounds input cells (row, column) of output (oy, ox).</summary>
    private static IEnumerable<(int Y, int X)> Window(Geo g, int[] xs, int oy, int ox)
    {
        for (var ky = 0; ky < g.K[0]; ky++)
        {
            var iy = (oy * g.S[0]) - g.PadTop + (ky * g.D[0]);
            for (var kx = 0; kx < g.K[1]; kx++)
            {
                var ix = (ox * g.S[1]) - g.PadLeft + (kx * g.D[1]);
                if (iy >= 0 && iy < xs[2] && ix >= 0 && ix < xs[3])
                {
                    yield return (iy, ix);
                }
            }
        }
    }

    private static float Stab(float z, float eps) => z >= 0 ? z + eps : z - eps;

    private void Forward(NodeProto n)
    {
        RefTensor X(int i) => _values[n.Input[i]];
        var y = n.Output[0];
        switch (n.OpType)
        {
            case "Conv":
                {
                    var x = X(0);
                    var w = X(1);
                    var group = (int)Int(n, "group", 1);
                    var geo = Geometry(n, x.Shape, Ints(n, "kernel_shape") ?? [w.Shape[2], w.Shape[3]]);
                    var outC = w.Shape[0];
                    var inPer = w.Shape[1];
                    var outPer = outC / group;
                    var o = RefTensor.Zeros([1, outC, geo.OutH, geo.OutW]);
                    var bias = n.Input.Count > 2 && n.Input[2].Length > 0 ? X(2).Data : new float[outC];
                    for (var oc = 0; oc < outC; oc++)
                    {
                        var g0 = oc / outPer * inPer;
                        for (var oy = 0; oy < geo.OutH; oy++)
                        {
                            for (var ox = 0; ox < geo.OutW; ox++)
                            {
                                double acc = bias[oc];
                                foreach (var (ic, ky, kx, iy, ix) in Taps(geo, x.Shape, inPer, oy, ox))
                                {
                                    acc += x.Data[(((g0 + ic) * x.Shape[2]) + iy) * x.Shape[3] + ix] * w.Data[(((oc * inPer) + ic) * geo.K[0] + ky) * geo.K[1] + kx];
                                }

                                o.Data[((oc * geo.OutH) + oy) * geo.OutW + ox] = (float)acc;
                            }
                        }
                    }

                    _values[y] = o;
                    break;
                }

            case "MaxPool" or "AveragePool":
                {
                    var x = X(0);
                    var geo = Geometry(n, x.Shape, Ints(n, "kernel_shape")!);
                    var o = RefTensor.Zeros([1, x.Shape[1], geo.OutH, geo.OutW]);
                    for (var c = 0; c < x.Shape[1]; c++)
                    {
                        for (var oy = 0; oy < geo.OutH; oy++)
                        {
                            for (var ox = 0; ox < geo.OutW; ox++)
                            {
                                var cells = Window(geo, x.Shape, oy, ox).Select(p => x.Data[((c * x.Shape[2]) + p.Y) * x.Shape[3] + p.X]).ToList();
                                o.Data[((c * geo.OutH) + oy) * geo.OutW + ox] = n.OpType == "MaxPool" ? cells.Max() : cells.Sum() / (geo.K[0] * geo.K[1]);
                            }
                        }
                    }

                    _values[y] = o;
                    break;
                }

            case "Relu":
                _values[y] = X(0) with { Data = [.. X(0).Data.Select(v => Math.Max(v, 0f))] };
                break;
            case "Identity" or "Dropout":
                _values[y] = X(0);
                break;
            case "Add" or "Sub" or "Mul" or "Div":
                _values[y] = Elementwise(n.OpType, X(0), X(1));
                break;
            case "Transpose":
                {
                    var x = X(0);
                    var perm = Ints(n, "perm")!;
                    var outShape = perm.Select(p => x.Shape[p]).ToArray();
                    var o = RefTensor.Zeros(outShape);
                    var inStrides = Strides(x.Shape);
                    var outStrides = Strides(outShape);
                    for (var i = 0; i < o.Data.Length; i++)
                    {
                        var src = 0;
                        var rem = i;
                        for (var a = 0; a < outShape.Length; a++)
                        {
                            var idx = rem / outStrides[a];
                            rem %= outStrides[a];
                            src += idx * inStrides[perm[a]];
                        }

                        o.Data[i] = x.Data[src];
                    }

                    _values[y] = o;
                    break;
                }

            case "Reshape":
                {
                    var shape = X(1).Data.Select(v => (int)v).ToArray();
                    for (var i = 0; i < shape.Length; i++)
                    {
                        shape[i] = shape[i] == 0 ? X(0).Shape[i] : shape[i];
                    }

                    var known = shape.Where(v => v > 0).Aggregate(1, (p, v) => p * v);
                    _values[y] = new RefTensor([.. shape.Select(v => v < 0 ? X(0).Data.Length / known : v)], X(0).Data);
                    break;
                }

            case "Flatten":
                _values[y] = new RefTensor([1, X(0).Data.Length], X(0).Data);
                break;
            case "ReduceMean" or "GlobalAveragePool":
                {
                    var x = X(0);
                    var hw = x.Shape[2] * x.Shape[3];
                    var keep = n.OpType == "GlobalAveragePool" || Int(n, "keepdims", 1) != 0;
                    var o = RefTensor.Zeros(keep ? [1, x.Shape[1], 1, 1] : [1, x.Shape[1]]);
                    for (var c = 0; c < x.Shape[1]; c++)
                    {
                        o.Data[c] = x.Data.AsSpan(c * hw, hw).ToArray().Sum() / hw;
                    }

                    _values[y] = o;
                    break;
                }

            case "Gemm" or "MatMul":
                {
                    var a = X(0);
                    var b = X(1);
                    var transB = n.OpType == "Gemm" && Int(n, "transB", 0) != 0;
                    var outN = transB ? b.Shape[0] : b.Shape[1];
                    var inN = a.Shape[1];
                    var o = RefTensor.Zeros([1, outN]);
                    for (var j = 0; j < outN; j++)
                    {
                        double acc = n.Input.Count > 2 ? X(2).Data[j] : 0;
                        for (var i = 0; i < inN; i++)
                        {
                            acc += a.Data[i] * (transB ? b.Data[(j * inN) + i] : b.Data[(i * outN) + j]);
                        }

                        o.Data[j] = (float)acc;
                    }

                    _values[y] = o;
                    break;
                }

            case "Softmax":
                {
                    var x = X(0).Data;
                    var max = x.Max();
                    var ex = x.Select(v => MathF.Exp(v - max)).ToArray();
                    var sum = ex.Sum();
                    _values[y] = X(0) with { Data = [.. ex.Select(v => v / sum)] };
                    break;
                }

            default:
                throw new NotSupportedException($"reference: no forward for {n.OpType}");
        }
    }

    private static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        var acc = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= shape[i];
        }

        return s;
    }

    private static RefTensor Elementwise(string op, RefTensor a, RefTensor b)
    {
        var big = a.Data.Length >= b.Data.Length ? a : b;
        var o = RefTensor.Zeros(big.Shape);
        var aPer = PerChannel(a, big);
        var bPer = PerChannel(b, big);
        for (var i = 0; i < o.Data.Length; i++)
        {
            var va = aPer(i);
            var vb = bPer(i);
            o.Data[i] = op switch { "Add" => va + vb, "Sub" => va - vb, "Mul" => va * vb, _ => va / vb };
        }

        return o;
    }

    /// <summary>Broadcast reads for the shapes the tests use: same shape, scalar, or per-channel [C,1,1].</summary>
    private static Func<int, float> PerChannel(RefTensor t, RefTensor big)
    {
        if (t.Data.Length == big.Data.Length)
        {
            return i => t.Data[i];
        }

        if (t.Data.Length == 1)
        {
            return _ => t.Data[0];
        }

        var hw = big.Shape[2] * big.Shape[3];
        return i => t.Data[i / hw % t.Data.Length];
    }

    private static IEnumerable<(int Ic, int Ky, int Kx, int Iy, int Ix)> Taps(Geo g, int[] xs, int inPer, int oy, int ox)
    {
        for (var ic = 0; ic < inPer; ic++)
        {
            for (var ky = 0; ky < g.K[0]; ky++)
            {
                var iy = (oy * g.S[0]) - g.PadTop + (ky * g.D[0]);
                if (iy < 0 || iy >= xs[2])
                {
                    continue;
                }

                for (var kx = 0; kx < g.K[1]; kx++)
                {
                    var ix = (ox * g.S[1]) - g.PadLeft + (kx * g.D[1]);
                    if (ix >= 0 && ix < xs[3])
                    {
                        yield return (ic, ky, kx, iy, ix);
                    }
                }
            }
        }
    }

    private void Give(string tensor, float[] r)
    {
        if (IsConst(tensor))
        {
            return;
        }

        if (_relevance.TryGetValue(tensor, out var have))
        {
            for (var i = 0; i < r.Length; i++)
            {
                have[i] += r[i];
            }
        }
        else
        {
            _relevance[tensor] = r;
        }
    }

    private bool IsInputConv(NodeProto n)
    {
        var t = n.Input[0];
        while (t != _input && _producer.TryGetValue(t, out var p) && p.OpType is "Transpose" or "Identity" or "Reshape" or "QuantizeLinear" or "DequantizeLinear")
        {
            t = p.Input[0];
        }

        return t == _input;
    }

    private bool IsTopConv(NodeProto n)
    {
        var t = n.Output[0];
        while (_consumers.TryGetValue(t, out var cs) && cs.Count == 1)
        {
            var c = cs[0];
            if (c.OpType == "Softmax")
            {
                return true;
            }

            if (c.OpType is not ("ReduceMean" or "ReduceSum" or "GlobalAveragePool" or "Reshape" or "Flatten" or "Squeeze" or "Identity"))
            {
                return false;
            }

            t = c.Output[0];
        }

        return model.Graph.Output.Any(o => o.Name == t);
    }

    private void Backward(NodeProto n, float[] r)
    {
        var y = _values[n.Output[0]];
        var xName = n.Input[0];
        switch (n.OpType)
        {
            case "Conv":
                Give(xName, ConvBackward(n, r));
                break;
            case "MaxPool" when options.MaxPoolRule == LrpMaxPoolRule.Winner:
                {
                    var x = _values[xName];
                    var geo = Geometry(n, x.Shape, Ints(n, "kernel_shape")!);
                    var rin = new float[x.Data.Length];
                    for (var c = 0; c < x.Shape[1]; c++)
                    {
                        for (var oy = 0; oy < geo.OutH; oy++)
                        {
                            for (var ox = 0; ox < geo.OutW; ox++)
                            {
                                var best = -1;
                                foreach (var (iy, ix) in Window(geo, x.Shape, oy, ox))
                                {
                                    var idx = ((c * x.Shape[2]) + iy) * x.Shape[3] + ix;
                                    if (best < 0 || x.Data[idx] > x.Data[best])
                                    {
                                        best = idx;
                                    }
                                }

                                rin[best] += r[((c * geo.OutH) + oy) * geo.OutW + ox];
                            }
                        }
                    }

                    Give(xName, rin);
                    break;
                }

            case "MaxPool" or "AveragePool":
                {
                    var x = _values[xName];
                    var geo = Geometry(n, x.Shape, Ints(n, "kernel_shape")!);
                    var rin = new float[x.Data.Length];
                    for (var c = 0; c < x.Shape[1]; c++)
                    {
                        for (var oy = 0; oy < geo.OutH; oy++)
                        {
                            for (var ox = 0; ox < geo.OutW; ox++)
                            {
                                var cells = Window(geo, x.Shape, oy, ox).Select(p => ((c * x.Shape[2]) + p.Y) * x.Shape[3] + p.X).ToList();
                                var z = Stab(cells.Sum(i => x.Data[i]), options.Epsilon);
                                foreach (var i in cells)
                                {
                                    rin[i] += x.Data[i] / z * r[((c * geo.OutH) + oy) * geo.OutW + ox];
                                }
                            }
                        }
                    }

                    Give(xName, rin);
                    break;
                }

            case "Add" when options.AddRule == LrpAddRule.Absolute && !IsConst(n.Input[0]) && !IsConst(n.Input[1]):
                {
                    var a = _values[n.Input[0]].Data;
                    var b = _values[n.Input[1]].Data;
                    Give(n.Input[0], [.. a.Select((v, i) => Math.Abs(v) / (Math.Abs(v) + Math.Abs(b[i]) + options.Stabilizer) * r[i])]);
                    Give(n.Input[1], [.. b.Select((v, i) => Math.Abs(v) / (Math.Abs(a[i]) + Math.Abs(v) + options.Stabilizer) * r[i])]);
                    break;
                }

            case "Add" or "Sub":
                foreach (var (name, sign) in new[] { (n.Input[0], 1f), (n.Input[1], n.OpType == "Sub" ? -1f : 1f) })
                {
                    if (!IsConst(name))
                    {
                        var a = _values[name].Data;
                        Give(name, [.. a.Select((v, i) => sign * v / Stab(y.Data[i], options.Epsilon) * r[i])]);
                    }
                }

                break;
            case "Mul" or "Div" or "Relu" or "Identity" or "Dropout" or "QuantizeLinear" or "DequantizeLinear" or "Clip":
                Give(xName, r);
                break;
            case "Transpose":
                {
                    // Relevance goes back by the inverse permutation: position i of y came from position src of x.
                    var x = _values[xName];
                    var perm = Ints(n, "perm")!;
                    var rin = new float[r.Length];
                    var inStrides = Strides(x.Shape);
                    var outStrides = Strides(y.Shape);
                    for (var i = 0; i < r.Length; i++)
                    {
                        var src = 0;
                        var rem = i;
                        for (var a = 0; a < y.Shape.Length; a++)
                        {
                            src += rem / outStrides[a] * inStrides[perm[a]];
                            rem %= outStrides[a];
                        }

                        rin[src] = r[i];
                    }

                    Give(xName, rin);
                    break;
                }

            case "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze":
                Give(xName, r);
                break;
            case "ReduceMean" or "GlobalAveragePool":
                {
                    var x = _values[xName];
                    var hw = x.Shape[2] * x.Shape[3];
                    Give(xName, [.. x.Data.Select((v, i) => v / hw / Stab(y.Data[i / hw], options.Stabilizer) * r[i / hw])]);
                    break;
                }

            case "Gemm" or "MatMul":
                {
                    var a = _values[xName];
                    var b = _values[n.Input[1]];
                    var transB = n.OpType == "Gemm" && Int(n, "transB", 0) != 0;
                    var outN = y.Data.Length;
                    var inN = a.Data.Length;
                    var rin = new float[inN];
                    for (var j = 0; j < outN; j++)
                    {
                        var s = r[j] / Stab(y.Data[j], options.Epsilon);
                        for (var i = 0; i < inN; i++)
                        {
                            rin[i] += a.Data[i] * (transB ? b.Data[(j * inN) + i] : b.Data[(i * outN) + j]) * s;
                        }
                    }

                    Give(xName, rin);
                    break;
                }

            default:
                throw new NotSupportedException($"reference: no LRP rule for {n.OpType}");
        }
    }

    private float[] ConvBackward(NodeProto n, float[] r)
    {
        var x = _values[n.Input[0]];
        var w = _values[n.Input[1]];
        var y = _values[n.Output[0]];
        var group = (int)Int(n, "group", 1);
        var geo = Geometry(n, x.Shape, Ints(n, "kernel_shape") ?? [w.Shape[2], w.Shape[3]]);
        var outC = w.Shape[0];
        var inPer = w.Shape[1];
        var outPer = outC / group;
        var rin = new float[x.Data.Length];
        var input = IsInputConv(n) && options.InputBounds;
        var top = !IsInputConv(n) && IsTopConv(n);
        if (options.Mode == LrpMode.Reduced && options.ChannelBudget is int budget && group == 1 && outC > budget && !input && !top
            && options.ConvRule != LrpConvRule.Epsilon && w.Shape[2] == 1 && w.Shape[3] == 1 && geo.S.All(v => v == 1) && geo.PadTop == 0 && geo.PadLeft == 0)
        {
            // The channel budget: only the `budget` output channels with the largest Σ|R| pass relevance on.
            var plane = geo.OutH * geo.OutW;
            var keep = Enumerable.Range(0, outC)
                .OrderByDescending(c => r.Skip(c * plane).Take(plane).Sum(v => Math.Abs(v)))
                .ThenBy(c => c)
                .Take(budget)
                .ToHashSet();
            r = [.. r.Select((v, i) => keep.Contains(i / plane) ? v : 0f)];
        }

        var gamma = options.ConvRule == LrpConvRule.ZPlus ? float.PositiveInfinity : options.Gamma;
        var contributions = new List<(int Index, double Z)>();
        for (var oc = 0; oc < outC; oc++)
        {
            var g0 = oc / outPer * inPer;
            for (var oy = 0; oy < geo.OutH; oy++)
            {
                for (var ox = 0; ox < geo.OutW; ox++)
                {
                    var oIdx = ((oc * geo.OutH) + oy) * geo.OutW + ox;
                    contributions.Clear();
                    foreach (var (ic, ky, kx, iy, ix) in Taps(geo, x.Shape, inPer, oy, ox))
                    {
                        var xi = (((g0 + ic) * x.Shape[2]) + iy) * x.Shape[3] + ix;
                        var a = x.Data[xi];
                        var wv = w.Data[(((oc * inPer) + ic) * geo.K[0] + ky) * geo.K[1] + kx];
                        double z;
                        if (input)
                        {
                            z = (a * wv) - (options.InputLow * Math.Max(wv, 0)) - (options.InputHigh * Math.Min(wv, 0));
                        }
                        else if (top || options.ConvRule == LrpConvRule.Epsilon)
                        {
                            z = a * wv;
                        }
                        else if (float.IsPositiveInfinity(gamma))
                        {
                            z = (Math.Max(a, 0) * Math.Max(wv, 0)) + (Math.Min(a, 0) * Math.Min(wv, 0));
                        }
                        else
                        {
                            z = (Math.Max(a, 0) * (wv + (gamma * Math.Max(wv, 0)))) + (Math.Min(a, 0) * (wv + (gamma * Math.Min(wv, 0))));
                        }

                        contributions.Add((xi, z));
                    }

                    double den;
                    if (input || float.IsPositiveInfinity(gamma) && !top && options.ConvRule != LrpConvRule.Epsilon)
                    {
                        den = contributions.Sum(c => c.Z) + options.Stabilizer;
                    }
                    else if (top || options.ConvRule == LrpConvRule.Epsilon)
                    {
                        den = Stab(y.Data[oIdx], options.Epsilon);
                    }
                    else
                    {
                        den = Stab((float)contributions.Sum(c => c.Z), options.Epsilon);
                    }

                    foreach (var (xi, z) in contributions)
                    {
                        rin[xi] += (float)(z / den * r[oIdx]);
                    }
                }
            }
        }

        return rin;
    }
}
