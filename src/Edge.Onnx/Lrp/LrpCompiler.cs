using System.Numerics.Tensors;
using Edge.Onnx.Proto;

namespace Edge.Onnx.Lrp;

/// <summary>
/// What <see cref="LrpCompiler.Compile"/> produced: an explainer model and the names a caller binds to.
/// Inputs: the scoring model's input (batch fixed to 1) and <see cref="TargetInput"/>, float [K, classes]:
/// each row selects what one relevance map explains (one-hot = that class's logit; a row of zeros = the
/// top class, chosen inside the graph). Outputs: the scoring model's outputs, <see cref="LogitsOutput"/>
/// [1, classes] (the pre-softmax logits relevance starts from) and <see cref="MapOutput"/> [K, H, W]
/// (input-space relevance summed over the input's channels).
/// </summary>
public sealed record LrpExplainer(
    ModelProto Model,
    string Input,
    long[] InputShape,
    string TargetInput,
    int Classes,
    IReadOnlyList<string> ScoreOutputs,
    string LogitsOutput,
    string MapOutput,
    int MapHeight,
    int MapWidth,
    LrpMode Mode,
    string? StoppedAt);

/// <summary>
/// Compiles a scoring ONNX graph into an explainer graph that runs the forward pass and the LRP relevance
/// pass in one session run. Rules (Montavon et al., "Layer-Wise Relevance Propagation: An Overview", 2019):
/// z^B for the convolution that reads the input; ε for Gemm/MatMul and for "top" convolutions (those reaching
/// the logits through linear pooling/reshapes only); <see cref="LrpOptions.ConvRule"/> (γ or z⁺) for the other
/// convolutions, with a⁺ and a⁻ split where the input can be negative; residual Adds in proportion to each
/// branch; max-pool to the winner (or z-rule); global mean in proportion to the activation. Batch-norm after a
/// convolution is folded into it first. Each rule is written with ONNX ops: z = Conv(a, ρ(W)), s = R / z,
/// c = ConvTranspose(s, ρ(W)), R_in = a ⊙ c.
/// </summary>
public static class LrpCompiler
{
    public const string TargetInputName = "lrp_target";
    public const string LogitsOutputName = "lrp_logits";
    public const string MapOutputName = "lrp_relevance_map";

    public static LrpExplainer Compile(ModelProto scoring, LrpOptions? options = null)
    {
        options ??= new LrpOptions();
        var model = scoring.Clone();
        var opsetImport = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")
            ?? throw new InvalidOperationException("the model imports no default-domain opset");
        if (opsetImport.Version < 13)
        {
            throw new InvalidOperationException($"opset {opsetImport.Version} is too old; the LRP compiler needs opset 13 or newer");
        }

        // ScatterElements(reduction=add) needs 16, Shape(start,end) 15; ops of 13–17 keep their meaning.
        opsetImport.Version = Math.Max(opsetImport.Version, 17);
        model.IrVersion = Math.Max(model.IrVersion, 8);
        var graph = model.Graph;
        FoldBatchNorm(graph);
        var g = new LrpGraph(graph);
        return new Compilation(model, g, options, new LrpEmitter(graph, opsetImport.Version)).Run();
    }

    /// <summary>Drops initializers no node reads (constants the relevance pass folded away), so ORT has nothing to warn about.</summary>
    internal static void PruneUnusedInitializers(GraphProto graph)
    {
        var used = new HashSet<string>(graph.Node.SelectMany(n => n.Input), StringComparer.Ordinal);
        used.UnionWith(graph.Output.Select(o => o.Name));
        for (var i = graph.Initializer.Count - 1; i >= 0; i--)
        {
            if (!used.Contains(graph.Initializer[i].Name))
            {
                graph.Initializer.RemoveAt(i);
            }
        }
    }

    /// <summary>Conv → BatchNormalization (the Conv's only consumer, constant float parameters) becomes one Conv.</summary>
    internal static void FoldBatchNorm(GraphProto graph)
    {
        var inits = graph.Initializer.ToDictionary(i => i.Name);
        foreach (var bn in graph.Node.Where(n => n.OpType == "BatchNormalization").ToList())
        {
            var conv = graph.Node.FirstOrDefault(n => n.OpType == "Conv" && n.Output[0] == bn.Input[0]);
            if (conv is null || graph.Node.Count(n => n.Input.Contains(conv.Output[0])) != 1 || graph.Output.Any(o => o.Name == conv.Output[0]))
            {
                throw new LrpUnsupportedOperatorException("BatchNormalization", bn.Name, "only a batch-norm that directly follows a Conv (its only consumer) can be folded");
            }

            if (!inits.TryGetValue(conv.Input[1], out var wT) || !bn.Input.Skip(1).All(inits.ContainsKey) || (conv.Input.Count > 2 && conv.Input[2].Length > 0 && !inits.ContainsKey(conv.Input[2])))
            {
                throw new LrpUnsupportedOperatorException("BatchNormalization", bn.Name, "its Conv and batch-norm parameters must be float initializers to fold");
            }

            var w = LrpTensors.ReadFloats(wT);
            var outC = (int)wT.Dims[0];
            var per = w.Length / outC;
            var scale = LrpTensors.ReadFloats(inits[bn.Input[1]]);
            var shift = LrpTensors.ReadFloats(inits[bn.Input[2]]);
            var mean = LrpTensors.ReadFloats(inits[bn.Input[3]]);
            var variance = LrpTensors.ReadFloats(inits[bn.Input[4]]);
            var eps = LrpGraph.AttrFloat(bn, "epsilon", 1e-5f);
            var b = conv.Input.Count > 2 && conv.Input[2].Length > 0 ? LrpTensors.ReadFloats(inits[conv.Input[2]]) : new float[outC];
            var w2 = new float[w.Length];
            var b2 = new float[outC];
            for (var o = 0; o < outC; o++)
            {
                var k = scale[o] / MathF.Sqrt(variance[o] + eps);
                for (var j = 0; j < per; j++)
                {
                    w2[(o * per) + j] = w[(o * per) + j] * k;
                }

                b2[o] = ((b[o] - mean[o]) * k) + shift[o];
            }

            var wName = conv.Input[1] + "/bn_folded";
            var bName = conv.Output[0] + "/bn_folded_bias";
            graph.Initializer.Add(LrpTensors.Floats(wName, [.. wT.Dims], w2));
            graph.Initializer.Add(LrpTensors.Floats(bName, [outC], b2));
            conv.Input[1] = wName;
            if (conv.Input.Count > 2)
            {
                conv.Input[2] = bName;
            }
            else
            {
                conv.Input.Add(bName);
            }

            conv.Output[0] = bn.Output[0];
            graph.Node.Remove(bn);
        }
    }

    private enum ConvKind
    {
        Input,
        Top,
        Middle,
    }

    private sealed class Compilation(ModelProto model, LrpGraph g, LrpOptions o, LrpEmitter e)
    {
        private static readonly HashSet<string> InputTransparent = ["Transpose", "QuantizeLinear", "DequantizeLinear", "Identity", "Reshape"];
        private static readonly HashSet<string> TopTransparent = ["ReduceMean", "ReduceSum", "GlobalAveragePool", "Reshape", "Flatten", "Squeeze", "Identity", "QuantizeLinear", "DequantizeLinear"];
        private readonly Dictionary<string, List<string>> _pending = [];
        private readonly Dictionary<string, float[]?> _values = [];
        private readonly Dictionary<string, string> _floatWeights = [];
        private readonly Dictionary<string, float[]> _emitted = [];

        private string Emit(long[] dims, float[] values)
        {
            var name = e.FloatConst(dims, values);
            _emitted[name] = values;
            return name;
        }

        /// <summary>
        /// The value of a constant tensor, evaluated at compile time where it is a float initializer or computed from
        /// initializers by DequantizeLinear / Transpose / Reshape-like nodes (int8 weights); null otherwise.
        /// </summary>
        private float[]? Values(string name)
        {
            if (!_values.TryGetValue(name, out var v))
            {
                _values[name] = v = Evaluate(name);
            }

            return v;
        }

        private float[]? Evaluate(string name)
        {
            if (g.Constants.TryGetValue(name, out var t))
            {
                return t.DataType == (int)TensorProto.Types.DataType.Float ? LrpTensors.ReadFloats(t) : null;
            }

            if (!g.Derived.Contains(name) || !g.Producers.TryGetValue(name, out var p))
            {
                return null;
            }

            switch (p.OpType)
            {
                case "Identity" or "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze":
                    return Values(p.Input[0]);
                case "DequantizeLinear" when g.Constants.TryGetValue(p.Input[0], out var q) && Values(p.Input[1]) is { } scale:
                    {
                        var qs = LrpTensors.ReadIntegers(q);
                        var zp = p.Input.Count > 2 && p.Input[2].Length > 0 && g.Constants.TryGetValue(p.Input[2], out var z) ? LrpTensors.ReadIntegers(z) : [0L];
                        var shape = g.Shape(p.Input[0]);
                        var axis = (int)LrpGraph.AttrInt(p, "axis", 1);
                        axis = axis < 0 ? axis + shape.Length : axis;
                        var inner = scale.Length == 1 ? 1 : LrpTensors.Product(shape.AsSpan(axis + 1));
                        var result = new float[qs.Length];
                        for (var i = 0; i < qs.Length; i++)
                        {
                            var c = scale.Length == 1 ? 0 : (int)(i / inner % scale.Length);
                            result[i] = (qs[i] - zp[zp.Length == 1 ? 0 : c]) * scale[c];
                        }

                        return result;
                    }

                case "Transpose" when Values(p.Input[0]) is { } x:
                    {
                        var xs = g.Shape(p.Input[0]);
                        var perm = LrpGraph.AttrInts(p, "perm") ?? [.. Enumerable.Range(0, xs.Length).Reverse().Select(i => (long)i)];
                        var ys = perm.Select(a => xs[a]).ToArray();
                        var xStrides = new long[xs.Length];
                        for (long i = xs.Length - 1, st = 1; i >= 0; st *= xs[i], i--)
                        {
                            xStrides[i] = st;
                        }

                        var result = new float[x.Length];
                        var index = new long[ys.Length];
                        for (var o = 0; o < result.Length; o++)
                        {
                            long src = 0;
                            for (var d = 0; d < ys.Length; d++)
                            {
                                src += index[d] * xStrides[perm[d]];
                            }

                            result[o] = x[src];
                            for (var d = ys.Length - 1; d >= 0 && ++index[d] == ys[d]; d--)
                            {
                                index[d] = 0;
                            }
                        }

                        return result;
                    }

                default:
                    return null;
            }
        }

        /// <summary>A float initializer holding <paramref name="w"/> for the relevance half (int8 weights dequantized once, at compile time).</summary>
        private string FloatWeight(string w)
        {
            if (g.Constants.TryGetValue(w, out var t) && t.DataType == (int)TensorProto.Types.DataType.Float)
            {
                return w;
            }

            if (!_floatWeights.TryGetValue(w, out var name))
            {
                _floatWeights[w] = name = Values(w) is { } v ? Emit(g.Shape(w), v) : w;
            }

            return name;
        }

        /// <summary>A weight's values when known at compile time: an initializer this compiler emitted, or a constant of the model.</summary>
        private float[]? KnownValues(string w) => _emitted.TryGetValue(w, out var known) ? known : Values(w);

        /// <summary>f applied to every weight, as an initializer when the weight is known at compile time, else in the graph.</summary>
        private string MapWeight(string w, long[] shape, Func<float, float> f, Func<string> inGraph) =>
            KnownValues(w) is { } v ? Emit(shape, [.. v.Select(f)]) : inGraph();

        private string Backward(string s, string w, long[] ws, WindowGeometry geo, long group) =>
            e.Backward(s, w, KnownValues(w), ws, geo, group);

        public LrpExplainer Run()
        {
            var graph = model.Graph;
            var nodes = graph.Node.ToList();
            var scoreOut = graph.Output[0].Name;
            // The head: Softmax, possibly followed by Identity nodes (TF graphs end in one). Relevance starts below it.
            var head = new HashSet<NodeProto>();
            var logits = scoreOut;
            var walk = g.Producers.GetValueOrDefault(scoreOut);
            while (walk is { OpType: "Identity" })
            {
                head.Add(walk);
                walk = g.Producers.GetValueOrDefault(walk.Input[0]);
            }

            if (walk is { OpType: "Softmax" })
            {
                head.Add(walk);
                logits = walk.Input[0];
            }
            else
            {
                head.Clear();
            }

            var logitShape = g.Shape(logits);
            var classes = (int)LrpTensors.Product(logitShape.AsSpan(1));

            // Batch 1 in, so that relevance can use the batch axis for the K requested maps.
            var inDims = graph.Input.First(i => i.Name == g.InputName).Type.TensorType.Shape.Dim;
            inDims[0].DimValue = 1;

            // Start: R = target ⊙ logits, a zero row meaning "the top class".
            var target = TargetInputName;
            graph.Input.Add(TensorInfo(target, [o.Maps ?? -1, classes]));
            var flat = logitShape.Length == 2 ? logits : e.Reshape(logits, 1, classes);
            var top = e.Node("Equal", [flat, e.ReduceMax(flat, [1], true)]);
            var rowIsZero = e.Node("Equal", [e.ReduceL1(target, [1], true), e.Scalar(0f)]);
            var chosen = e.Node("Where", [e.Node("And", [rowIsZero, top]), e.Scalar(1f), target]);
            var r0 = e.Mul(chosen, flat);
            Contribute(logits, logitShape.Length == 2 ? r0 : e.Reshape(r0, [-1, .. logitShape[1..]]));
            graph.Output.Add(TensorInfo(LogitsOutputName, [1, classes]));
            graph.Node.Add(new NodeProto { OpType = "Identity", Name = "lrp/logits", Input = { flat }, Output = { LogitsOutputName } });

            string? stopAt = null;
            if (o.Mode == LrpMode.Reduced)
            {
                stopAt = o.StopAt ?? DefaultStop(nodes);
                if (!g.Producers.ContainsKey(stopAt))
                {
                    throw new InvalidOperationException($"StopAt tensor '{stopAt}' is not produced by any node");
                }
            }

            string? stopRelevance = null;
            for (var i = nodes.Count - 1; i >= 0; i--)
            {
                var node = nodes[i];
                if (head.Contains(node))
                {
                    continue;
                }

                var r = Take(node.Output[0]);
                if (r is null)
                {
                    continue;
                }

                if (node.Output[0] == stopAt)
                {
                    stopRelevance = r;
                    break;
                }

                Propagate(node, r);
            }

            string map;
            int height;
            int width;
            var inShape = g.Shape(g.InputName);
            var nhwc = inShape.Length == 4 && ReadsNhwc();
            if (inShape.Length != 4)
            {
                throw new InvalidOperationException($"the explained input must be an image tensor (4-D), '{g.InputName}' is {inShape.Length}-D");
            }

            (height, width) = nhwc ? ((int)inShape[1], (int)inShape[2]) : ((int)inShape[2], (int)inShape[3]);
            if (stopAt is null)
            {
                var rin = Take(g.InputName) ?? throw new InvalidOperationException("relevance never reached the input");
                map = e.ReduceSum(rin, [nhwc ? 3 : 1], false);
            }
            else
            {
                map = e.Reshape(Project(stopAt, stopRelevance ?? throw new InvalidOperationException($"relevance never reached '{stopAt}'"), nodes), -1, height, width);
            }

            graph.Output.Add(TensorInfo(MapOutputName, [o.Maps ?? -1, height, width]));
            graph.Node.Add(new NodeProto { OpType = "Identity", Name = "lrp/map", Input = { map }, Output = { MapOutputName } });
            PruneUnusedInitializers(graph);
            model.ProducerName = "edge-lrp";
            return new LrpExplainer(model, g.InputName, inShape, target, classes, [.. graph.Output.Take(graph.Output.Count - 2).Select(x => x.Name)],
                LogitsOutputName, MapOutputName, height, width, o.Mode, stopAt);
        }

        /// <summary>True when the input reaches its first layout change through Q/DQ/Identity only and that is NHWC → NCHW.</summary>
        private bool ReadsNhwc()
        {
            var t = g.InputName;
            while (g.Consumers.GetValueOrDefault(t) is [var c])
            {
                if (c.OpType == "Transpose")
                {
                    return LrpGraph.AttrInts(c, "perm") is [0, 3, 1, 2];
                }

                if (c.OpType is not ("QuantizeLinear" or "DequantizeLinear" or "Identity"))
                {
                    return false;
                }

                t = c.Output[0];
            }

            return false;
        }

        private string DefaultStop(List<NodeProto> nodes)
        {
            var add = nodes.LastOrDefault(n => n.OpType == "Add" && !g.IsConstant(n.Input[0]) && !g.IsConstant(n.Input[1]));
            if (add is not null)
            {
                return add.Output[0];
            }

            var convs = nodes.Where(n => n.OpType == "Conv").ToList();
            return convs.Count >= 2 ? convs[(convs.Count - 1) / 2].Output[0] : throw new InvalidOperationException("reduced mode needs a residual Add or two convolutions to stop at");
        }

        /// <summary>
        /// Projection from <paramref name="stop"/> to the pixels on the channel-summed relevance: direct (one step to the
        /// input layer's output, then the walk below from there) or guided (the walk from the stop: backwards with one
        /// pending map per tensor; a residual Add splits its map over both branches when
        /// <see cref="LrpOptions.ProjectBothBranches"/>, else the map follows the Add's first input).
        /// </summary>
        private string Project(string stop, string r, List<NodeProto> nodes)
        {
            if (g.Shape(stop).Length != 4)
            {
                throw new InvalidOperationException($"reduced mode stops at a 4-D NCHW tensor, '{stop}' is not");
            }

            var pending = new Dictionary<string, List<string>> { [stop] = [e.ReduceSum(r, [1], true)] };
            var channelSums = new Dictionary<string, string>();
            string Sum(string tensor)
            {
                var v = g.ValueOf(tensor);
                return channelSums.TryGetValue(v, out var s) ? s : channelSums[v] = e.ChannelSum(g.NonNegative.GetValueOrDefault(v) ? v : e.Relu(v), g.Shape(v), o.Stabilizer);
            }

            var addSums = new Dictionary<string, string>();
            string AddSum(string tensor)
            {
                var v = g.ValueOf(tensor);
                return addSums.TryGetValue(v, out var s) ? s : addSums[v] = e.ChannelSum(o.AddRule == LrpAddRule.Absolute ? e.Node("Abs", [v]) : v, g.Shape(v));
            }

            void Give(string tensor, string m) => (pending.TryGetValue(tensor, out var list) ? list : pending[tensor] = []).Add(m);
            var first = nodes.IndexOf(g.Producers[stop]);
            var input = nodes.Take(first + 1).FirstOrDefault(n => n.OpType == "Conv" && KindOf(n) == ConvKind.Input);
            if (o.Projection == LrpProjection.Direct && input?.Output[0] != stop)
            {
                // One z-rule step from the stop to the input layer's output y through fixed path weights P:
                // R_y = a ⊙ Pᵀ(R_stop / (P · Σ_c a_c + ε)) with a = max(y, 0), then the input layer's own rule.
                if (input is null)
                {
                    throw new InvalidOperationException("the direct projection needs a Conv that reads the input below the stop");
                }

                var y = input.Output[0];
                var (ys, ss) = (g.Shape(y), g.Shape(stop));
                var (positions, units) = ((int)(ys[2] * ys[3]), (int)(ss[2] * ss[3]));
                if ((long)positions * units > 1 << 22)
                {
                    throw new InvalidOperationException($"the direct projection's path weights would be {units}×{positions}; stop later (StopAt) or use the guided projection");
                }

                var paths = e.FloatConst([units, positions], PathWeights(stop, y, nodes, units));
                var active = e.Relu(g.ValueOf(y));
                var guide = e.Reshape(e.ChannelSum(active, ys, o.Stabilizer), 1, positions);
                var share = e.Div(e.Reshape(pending[stop][0], -1, units), e.Node("Gemm", [guide, paths], LrpEmitter.Int("transB", 1)));
                var back = e.Reshape(e.Node("MatMul", [share, paths]), -1, 1, ys[2], ys[3]);
                pending = new() { [input.Input[0]] = [InputLayer(input, active, back)] };
                first = nodes.IndexOf(input) - 1;
            }

            for (var i = first; i >= 0; i--)
            {
                var node = nodes[i];
                if (!pending.Remove(node.Output[0], out var maps))
                {
                    continue;
                }

                var map = maps.Aggregate(e.Add);
                var x = node.Input.FirstOrDefault(v => !g.IsConstant(v)) ?? throw new InvalidOperationException($"no activation input at '{node.Name}'");
                if (node.OpType == "Conv" && o.InputBounds && KindOf(node) == ConvKind.Input)
                {
                    // The input layer gets its exact z^B rule back: the channel-summed relevance is shared over the
                    // layer's channels in proportion to their ReLU'd output, then z^B gives pixel-level detail.
                    var y = node.Output[0];
                    var active = e.Relu(g.ValueOf(y));
                    Give(x, InputLayer(node, active, e.Div(map, e.ChannelSum(active, g.Shape(y), o.Stabilizer))));
                }
                else if (node.OpType is "Conv" or "MaxPool" or "AveragePool")
                {
                    var k = node.OpType == "Conv" ? (LrpGraph.AttrInts(node, "kernel_shape") ?? g.Shape(node.Input[1])[2..]) : LrpGraph.AttrInts(node, "kernel_shape")!;
                    var geo = g.Window(node, k);
                    var onesValues = Enumerable.Repeat(1f, (int)(k[0] * k[1])).ToArray();
                    string? onesKernel = null;
                    string Ones() => onesKernel ??= e.FloatConst([1, 1, k[0], k[1]], onesValues);
                    if (k.All(v => v == 1) && geo.Pads.All(v => v == 0))
                    {
                        // 1×1: the map stays where it is (stride 1) or goes back onto the stride grid.
                        Give(x, geo.Strides.All(v => v == 1) ? map : e.ConvTranspose(map, Ones(), geo, 1));
                        continue;
                    }

                    if (!o.ProjectStrideOneWindows && geo.Strides.All(v => v == 1) && geo.InSize.SequenceEqual(geo.OutSize))
                    {
                        Give(x, map);
                        continue;
                    }

                    // Each output's map goes back over its window in proportion to the channel-summed input a
                    // (Σ_c ReLU(x_c) + ε per pixel, so no window sums to 0): a · Backward(map / Σ_window a). Window
                    // sums are taken as means (AveragePool, n = |window|) with the 1/n folded into the backward pass.
                    var a = Sum(x);
                    var n = k[0] * k[1];
                    if (geo.Dilations.Any(v => v != 1) || geo.Pads.Where((p, j) => p >= k[j % 2]).Any() || !FloorWindows(geo))
                    {
                        Give(x, e.Mul(a, e.Backward(e.Div(map, e.Conv(a, Ones(), geo, 1)), Ones(), onesValues, [1, 1, k[0], k[1]], geo, 1)));
                        continue;
                    }

                    var share = e.Div(map, e.WindowMean(a, geo, geo.Pads));
                    var back = geo.Strides.All(v => v == 1)
                        ? e.WindowMean(share, geo, [k[0] - 1 - geo.Pads[0], k[1] - 1 - geo.Pads[1], k[0] - 1 - geo.Pads[2], k[1] - 1 - geo.Pads[3]])
                        : e.ConvTranspose(share, e.FloatConst([1, 1, k[0], k[1]], [.. Enumerable.Repeat(1f / n, (int)n)]), geo, 1);
                    Give(x, e.Mul(a, back));
                }
                else if (node.OpType == "Add" && o.ProjectBothBranches && !g.IsConstant(node.Input[0]) && !g.IsConstant(node.Input[1]))
                {
                    // The residual rule on channel sums: each branch gets Σ_c |x_c| / (Σ_c |a_c| + Σ_c |b_c|) of the map
                    // (the signed rule: Σ_c x_c / (Σ_c a_c + Σ_c b_c), stabilised by ε).
                    var a = node.Input[0];
                    var b = node.Input[1];
                    var (sa, sb) = (AddSum(a), AddSum(b));
                    var share = e.Div(map, o.AddRule == LrpAddRule.Absolute ? e.Add(e.Add(sa, sb), e.Scalar(o.Stabilizer)) : e.Stabilize(e.Add(sa, sb), o.Epsilon));
                    Give(a, e.Mul(sa, share));
                    Give(b, e.Mul(sb, share));
                }
                else if (LrpGraph.IsPassThrough(node.OpType) || node.OpType is "Add" or "Sub" or "Mul" or "Div" or "Transpose")
                {
                    Give(x, map);
                }
                else
                {
                    throw new LrpUnsupportedOperatorException(node.OpType, node.Name, "not on a projectable path in reduced mode");
                }
            }

            var rest = string.Join(", ", pending.Keys.Where(k => k != g.InputName));
            return pending.Remove(g.InputName, out var last) && rest.Length == 0
                ? last.Aggregate(e.Add)
                : throw new InvalidOperationException($"the projection did not reach the input in one piece (left at: {rest})");
        }

        /// <summary>
        /// The direct projection's path weights from each unit of <paramref name="stop"/> to the positions of <paramref name="y"/>,
        /// as [unit, position]: every window shares equally over its cells inside the input, a residual Add gives each
        /// branch half (<see cref="LrpOptions.ProjectBothBranches"/>; else all to its first input), size-keeping stride-1
        /// windows are skipped unless <see cref="LrpOptions.ProjectStrideOneWindows"/>.
        /// </summary>
        private float[] PathWeights(string stop, string y, List<NodeProto> nodes, int units)
        {
            var pending = new Dictionary<string, float[]>();
            void Give(string tensor, float[] m)
            {
                if (pending.TryGetValue(tensor, out var have))
                {
                    TensorPrimitives.Add(have, m, have);
                }
                else
                {
                    pending[tensor] = m;
                }
            }

            var eye = new float[units * units];
            for (var u = 0; u < units; u++)
            {
                eye[(u * units) + u] = 1f;
            }

            pending[stop] = eye;
            for (var i = nodes.IndexOf(g.Producers[stop]); i >= 0; i--)
            {
                var node = nodes[i];
                if (!pending.Remove(node.Output[0], out var m))
                {
                    continue;
                }

                if (node.Output[0] == y)
                {
                    return m;
                }

                var x = node.Input.FirstOrDefault(v => !g.IsConstant(v)) ?? throw new InvalidOperationException($"no activation input at '{node.Name}'");
                if (node.OpType is "Conv" or "MaxPool" or "AveragePool")
                {
                    var k = node.OpType == "Conv" ? (LrpGraph.AttrInts(node, "kernel_shape") ?? g.Shape(node.Input[1])[2..]) : LrpGraph.AttrInts(node, "kernel_shape")!;
                    var geo = g.Window(node, k);
                    Give(x, !o.ProjectStrideOneWindows && geo.Strides.All(v => v == 1) && geo.InSize.SequenceEqual(geo.OutSize) ? m : Spread(m, units, geo));
                }
                else if (node.OpType == "Add" && o.ProjectBothBranches && !g.IsConstant(node.Input[0]) && !g.IsConstant(node.Input[1]))
                {
                    TensorPrimitives.Multiply(m, 0.5f, m);
                    Give(node.Input[0], m);
                    Give(node.Input[1], [.. m]);
                }
                else if (LrpGraph.IsPassThrough(node.OpType) || node.OpType is "Add" or "Sub" or "Mul" or "Div" or "Transpose")
                {
                    Give(x, m);
                }
                else
                {
                    throw new LrpUnsupportedOperatorException(node.OpType, node.Name, "not on a projectable path in reduced mode");
                }
            }

            throw new InvalidOperationException($"the direct projection found no path from '{stop}' to '{y}'");
        }

        /// <summary>Each output cell's weight shared equally over the cells of its window that lie inside the input.</summary>
        private static float[] Spread(float[] m, int units, WindowGeometry geo)
        {
            var (ho, wo, hi, wi) = ((int)geo.OutSize[0], (int)geo.OutSize[1], (int)geo.InSize[0], (int)geo.InSize[1]);
            var result = new float[units * hi * wi];
            var taps = new List<int>();
            for (var oy = 0; oy < ho; oy++)
            {
                for (var ox = 0; ox < wo; ox++)
                {
                    taps.Clear();
                    for (var ky = 0; ky < geo.Kernel[0]; ky++)
                    {
                        for (var kx = 0; kx < geo.Kernel[1]; kx++)
                        {
                            var iy = (oy * geo.Strides[0]) - geo.Pads[0] + (ky * geo.Dilations[0]);
                            var ix = (ox * geo.Strides[1]) - geo.Pads[1] + (kx * geo.Dilations[1]);
                            if (iy >= 0 && iy < hi && ix >= 0 && ix < wi)
                            {
                                taps.Add((int)((iy * wi) + ix));
                            }
                        }
                    }

                    for (var u = 0; u < units && taps.Count > 0; u++)
                    {
                        var share = m[(u * ho * wo) + (oy * wo) + ox] / taps.Count;
                        foreach (var t in taps)
                        {
                            result[(u * hi * wi) + t] += share;
                        }
                    }
                }
            }

            return result;
        }

        /// <summary>
        /// The input layer's rule for the relevance active ⊙ back at its output (active [1, C, H, W], back [K, 1, H, W]),
        /// summed over the input's channels. Under z^B, s = back ⊙ (active / z): one division for all K maps.
        /// </summary>
        private string InputLayer(NodeProto node, string active, string back)
        {
            var rin = o.InputBounds && KindOf(node) == ConvKind.Input
                ? Conv(node, string.Empty, z => e.Mul(e.Div(active, z), back))
                : Conv(node, e.Mul(active, back));
            return g.Shape(node.Input[0])[1] == 1 ? rin : e.ReduceSum(rin, [1], true);
        }

        /// <summary>Every window lies inside the padded input (no ceil-mode overhang), so each covers exactly |window| cells.</summary>
        private static bool FloorWindows(WindowGeometry geo) =>
            Enumerable.Range(0, 2).All(i => geo.OutSize[i] == ((geo.InSize[i] + geo.Pads[i] + geo.Pads[i + 2] - geo.Kernel[i]) / geo.Strides[i]) + 1);

        private void Contribute(string tensor, string r)
        {
            if (g.IsConstant(tensor))
            {
                return;
            }

            if (!_pending.TryGetValue(tensor, out var list))
            {
                _pending[tensor] = list = [];
            }

            list.Add(r);
        }

        private string? Take(string tensor)
        {
            if (!_pending.Remove(tensor, out var list))
            {
                return null;
            }

            var sum = list[0];
            for (var i = 1; i < list.Count; i++)
            {
                sum = e.Add(sum, list[i]);
            }

            return sum;
        }

        private void Propagate(NodeProto node, string r)
        {
            var op = node.OpType;
            var x = node.Input.Count > 0 ? node.Input[0] : "";
            var y = node.Output[0];
            switch (op)
            {
                case "Conv":
                    Contribute(x, Conv(node, r));
                    break;
                case "MaxPool" when o.MaxPoolRule == LrpMaxPoolRule.Winner:
                    Contribute(x, MaxPoolWinner(node, r));
                    break;
                case "MaxPool" or "AveragePool":
                    Contribute(x, PoolZ(node, r));
                    break;
                case "Add" or "Sub":
                    {
                        var a = node.Input[0];
                        var b = node.Input[1];
                        if (g.IsConstant(a) && g.IsConstant(b))
                        {
                            break;
                        }

                        if (op == "Sub" && g.IsConstant(a))
                        {
                            throw new LrpUnsupportedOperatorException(op, node.Name, "constant − activation is not supported");
                        }

                        var both = !g.IsConstant(a) && !g.IsConstant(b);
                        if (both && o.AddRule == LrpAddRule.Absolute)
                        {
                            var absA = e.Node("Abs", [a]);
                            var absB = e.Node("Abs", [b]);
                            var share = e.Div(r, e.Add(e.Add(absA, absB), e.Scalar(o.Stabilizer)));
                            Contribute(a, e.Mul(absA, share));
                            Contribute(b, e.Mul(absB, share));
                            break;
                        }

                        var s = e.Div(r, e.Stabilize(y, o.Epsilon));
                        foreach (var input in new[] { a, b }.Where(v => !g.IsConstant(v)))
                        {
                            if (!g.Shape(input).SequenceEqual(g.Shape(y)))
                            {
                                throw new LrpUnsupportedOperatorException(op, node.Name, "broadcasting between activations is not supported");
                            }

                            Contribute(input, op == "Sub" && input == b ? e.Node("Neg", [e.Mul(input, s)]) : e.Mul(input, s));
                        }

                        break;
                    }

                case "Mul" or "Div":
                    if (!g.IsConstant(node.Input[1]))
                    {
                        throw new LrpUnsupportedOperatorException(op, node.Name, "only multiplication by a constant is supported");
                    }

                    Contribute(x, r);
                    break;
                case "Transpose":
                    {
                        var perm = LrpGraph.AttrInts(node, "perm") ?? throw new LrpUnsupportedOperatorException(op, node.Name, "perm is required");
                        if (perm[0] != 0)
                        {
                            throw new LrpUnsupportedOperatorException(op, node.Name, "a transpose that moves the batch axis is not supported");
                        }

                        var inv = new long[perm.Length];
                        for (var i = 0; i < perm.Length; i++)
                        {
                            inv[perm[i]] = i;
                        }

                        Contribute(x, e.Node("Transpose", [r], LrpEmitter.Ints("perm", inv)));
                        break;
                    }

                case "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze":
                    Contribute(x, e.Reshape(r, [-1, .. g.Shape(x)[1..]]));
                    break;
                case "GlobalAveragePool" or "ReduceMean" or "ReduceSum":
                    {
                        var xs = g.Shape(x);
                        var axes = op == "GlobalAveragePool" ? [.. Enumerable.Range(2, xs.Length - 2)] : g.ReduceAxes(node, xs.Length);
                        if (axes.Contains(0))
                        {
                            throw new LrpUnsupportedOperatorException(op, node.Name, "reducing over the batch axis is not supported");
                        }

                        var n = op == "ReduceSum" ? 1L : axes.Aggregate(1L, (p, a) => p * xs[a]);
                        var kept = xs.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray();
                        var s = e.Reshape(e.Div(r, e.Stabilize(y, o.Stabilizer)), [-1, .. kept[1..]]);
                        Contribute(x, e.Mul(x, n == 1 ? s : e.Mul(s, e.Scalar(1f / n))));
                        break;
                    }

                case "Gemm" or "MatMul":
                    Contribute(x, Dense(node, r));
                    break;
                case "BatchNormalization":
                    throw new LrpUnsupportedOperatorException(op, node.Name, "batch-norm not after a Conv cannot be folded");
                case "Softmax":
                    throw new LrpUnsupportedOperatorException(op, node.Name, "a softmax is only supported as the last node");
                default:
                    if (LrpGraph.IsPassThrough(op))
                    {
                        Contribute(x, r);
                        break;
                    }

                    throw new LrpUnsupportedOperatorException(op, node.Name, "no LRP rule for this operator");
            }
        }

        private ConvKind KindOf(NodeProto conv)
        {
            var t = conv.Input[0];
            while (t != g.InputName && g.Producers.TryGetValue(t, out var p) && InputTransparent.Contains(p.OpType))
            {
                t = p.Input[0];
            }

            if (t == g.InputName)
            {
                return ConvKind.Input;
            }

            t = conv.Output[0];
            while (g.Consumers.TryGetValue(t, out var cs) && cs.Count == 1)
            {
                var c = cs[0];
                if (c.OpType == "Softmax")
                {
                    return ConvKind.Top;
                }

                if (!TopTransparent.Contains(c.OpType) && !(c.OpType == "Add" && (g.IsConstant(c.Input[0]) || g.IsConstant(c.Input[1]))))
                {
                    return ConvKind.Middle;
                }

                t = c.Output[0];
            }

            return model.Graph.Output.Any(v => v.Name == t) ? ConvKind.Top : ConvKind.Middle;
        }

        /// <summary>
        /// The rule of a convolution for relevance <paramref name="r"/> at its output. For the input layer under z^B,
        /// <paramref name="share"/> (when given) makes s = R / z from z instead of dividing <paramref name="r"/>.
        /// </summary>
        private string Conv(NodeProto node, string r, Func<string, string>? share = null)
        {
            var x = node.Input[0];
            var w = FloatWeight(node.Input[1]);
            var ws = g.Shape(node.Input[1]);
            var geo = g.Window(node, LrpGraph.AttrInts(node, "kernel_shape") ?? ws[2..]);
            var group = LrpGraph.AttrInt(node, "group", 1);
            var kind = KindOf(node);
            string Positive() => MapWeight(w, ws, v => MathF.Max(v, 0f), () => e.Relu(w));
            string Negative() => MapWeight(w, ws, v => MathF.Min(v, 0f), () => e.NegPart(w));
            if (kind == ConvKind.Input && o.InputBounds)
            {
                string z;
                string? wp = null, wn = null;
                float Bound(float v) => (MathF.Max(v, 0f) * o.InputLow) + (MathF.Min(v, 0f) * o.InputHigh);
                var known = KnownValues(w);
                var modelBias = node.Input.Count > 2 && node.Input[2].Length > 0 ? KnownValues(node.Input[2]) : new float[ws[0]];
                if (known is not null && geo.Pads.All(p => p == 0))
                {
                    // No padding: every window holds the whole kernel, so l·W⁺ + h·W⁻ is one number per output channel and
                    // z = x·W − l·W⁺ − h·W⁻ (+ the stabiliser) is one Conv with a bias. Where only a ReLU reads the layer,
                    // relevance is zero wherever the ReLU outputs zero, so z can be the ReLU's output plus that constant
                    // minus the model's bias: exact where the ReLU passes its input, and positive elsewhere for inputs
                    // within the bounds (there z^B's z is ≥ 0 while the layer's output is ≤ 0).
                    var perOutput = known.Length / (int)ws[0];
                    var bias = new float[ws[0]];
                    for (var c = 0; c < bias.Length; c++)
                    {
                        var bound = 0f;
                        foreach (var v in known.AsSpan(c * perOutput, perOutput))
                        {
                            bound += Bound(v);
                        }

                        bias[c] = o.Stabilizer - bound;
                    }

                    if (modelBias is not null && g.Consumers.GetValueOrDefault(node.Output[0]) is [{ OpType: "Relu" }])
                    {
                        z = e.Add(e.Relu(g.ValueOf(node.Output[0])), e.FloatConst([1, ws[0], 1, 1], [.. bias.Select((v, c) => v - modelBias[c])]));
                    }
                    else
                    {
                        z = e.Conv(x, w, e.FloatConst([ws[0]], bias), geo, group);
                    }
                }
                else
                {
                    var shape = e.IntConst(g.Shape(x));
                    var low = e.Node("Expand", [e.Scalar(o.InputLow), shape]);
                    var high = e.Node("Expand", [e.Scalar(o.InputHigh), shape]);
                    z = e.Add(e.Sub(e.Sub(e.Conv(x, w, geo, group), e.Conv(low, wp ??= Positive(), geo, group)), e.Conv(high, wn ??= Negative(), geo, group)), e.Scalar(o.Stabilizer));
                }

                var s = share?.Invoke(z) ?? e.Div(r, z);
                var bounds = MapWeight(w, ws, Bound, () => e.Add(e.Mul(wp ??= Positive(), e.Scalar(o.InputLow)), e.Mul(wn ??= Negative(), e.Scalar(o.InputHigh))));
                return e.Sub(e.Mul(x, Backward(s, w, ws, geo, group)), Backward(s, bounds, ws, geo, group));
            }

            if (kind == ConvKind.Top || o.ConvRule == LrpConvRule.Epsilon)
            {
                var s = e.Div(r, e.Stabilize(node.Output[0], o.Epsilon));
                return e.Mul(x, Backward(s, w, ws, geo, group));
            }

            var plus = o.ConvRule == LrpConvRule.ZPlus;
            var gamma = o.Gamma;
            var wPos = plus ? Positive() : MapWeight(w, ws, v => v + (gamma * MathF.Max(v, 0f)), () => e.Add(w, e.Mul(e.Relu(w), e.Scalar(gamma))));
            string Denominator(string z) => plus ? e.Add(z, e.Scalar(o.Stabilizer)) : e.Stabilize(z, o.Epsilon);
            string NegativeWeight() => plus ? Negative() : MapWeight(w, ws, v => v + (gamma * MathF.Min(v, 0f)), () => e.Add(w, e.Mul(e.NegPart(w), e.Scalar(gamma))));
            if (o.Mode == LrpMode.Reduced && o.ChannelBudget is int budget && o.Maps is int maps && group == 1 && ws[0] > budget
                && ws[2] == 1 && ws[3] == 1 && geo.Strides.All(v => v == 1) && geo.Pads.All(v => v == 0))
            {
                return BudgetConv(x, r, ws, geo, budget, maps, wPos, NegativeWeight, Denominator);
            }

            if (g.NonNegative.GetValueOrDefault(x))
            {
                var s = e.Div(r, Denominator(e.Conv(x, wPos, geo, group)));
                return e.Mul(x, Backward(s, wPos, ws, geo, group));
            }

            var wNeg = NegativeWeight();
            var xp = e.Relu(x);
            var xn = e.NegPart(x);
            var zs = e.Add(e.Conv(xp, wPos, geo, group), e.Conv(xn, wNeg, geo, group));
            var s2 = e.Div(r, Denominator(zs));
            return e.Add(e.Mul(xp, Backward(s2, wPos, ws, geo, group)), e.Mul(xn, Backward(s2, wNeg, ws, geo, group)));
        }

        /// <summary>
        /// Reduced mode's channel budget for a pointwise conv: each map (row of the K maps) explains only the
        /// <paramref name="budget"/> output channels carrying most of its relevance (TopK of Σ|R|), the rest of that
        /// relevance is dropped. Weight rows (for z) and columns (backward) are gathered at run time from constants
        /// transposed once at compile time; maps are explained one by one so that a map never depends on the others.
        /// </summary>
        private string BudgetConv(string x, string r, long[] ws, WindowGeometry geo, int budget, int maps, string wPos, Func<string> negative, Func<string, string> denominator)
        {
            var signed = !g.NonNegative.GetValueOrDefault(x);
            var branches = new List<(string A, string Rows, string Cols)> { (signed ? e.Relu(x) : x, wPos, Transposed(wPos, ws)) };
            if (signed)
            {
                var wNeg = negative();
                branches.Add((e.NegPart(x), wNeg, Transposed(wNeg, ws)));
            }

            var parts = new string[maps];
            for (var m = 0; m < maps; m++)
            {
                var rm = maps == 1 ? r : e.Node("Slice", [r, e.IntConst(m), e.IntConst(m + 1), e.IntConst(0)]);
                var idx = e.Nodes("TopK", [e.ReduceSum(e.Node("Abs", [rm]), [0, 2, 3], false), e.IntConst(budget)], 2)[1];
                var z = branches.Select(b => e.Conv(b.A, e.Node("Gather", [b.Rows, idx], LrpEmitter.Int("axis", 0)), geo, 1)).Aggregate(e.Add);
                var s = e.Div(e.Node("Gather", [rm, idx], LrpEmitter.Int("axis", 1)), denominator(z));
                parts[m] = branches.Select(b => e.Mul(b.A, e.Node("Conv", [s, e.Node("Gather", [b.Cols, idx], LrpEmitter.Int("axis", 1))], LrpEmitter.Ints("kernel_shape", 1, 1)))).Aggregate(e.Add);
            }

            return maps == 1 ? parts[0] : e.Node("Concat", parts, LrpEmitter.Int("axis", 0));
        }

        /// <summary>The [in, out, 1, 1] transpose of a constant pointwise weight [out, in, 1, 1], as an initializer.</summary>
        private string Transposed(string w, long[] ws)
        {
            var v = KnownValues(w) ?? throw new InvalidOperationException("a channel budget needs constant weights");
            var (co, ci) = ((int)ws[0], (int)ws[1]);
            var t = new float[v.Length];
            for (var a = 0; a < co; a++)
            {
                for (var b = 0; b < ci; b++)
                {
                    t[(b * co) + a] = v[(a * ci) + b];
                }
            }

            return Emit([ci, co, 1, 1], t);
        }

        /// <summary>
        /// Winner-take-all: a second MaxPool on the same input returns, per output, the flat index of the element it
        /// took (ORT returns the first maximum in row-major window order, never a padded position); ScatterElements
        /// with reduction "add" routes each output's relevance there, so an input that wins several overlapping
        /// windows collects all their relevance. O(outputs) work, a few ops.
        /// </summary>
        private string MaxPoolWinner(NodeProto node, string r)
        {
            if (LrpGraph.AttrInt(node, "storage_order", 0) != 0)
            {
                throw new LrpUnsupportedOperatorException(node.OpType, node.Name, "column-major storage_order is not supported");
            }

            var x = node.Input[0];
            var xs = g.Shape(x);
            var k = LrpGraph.AttrInts(node, "kernel_shape")!;
            var geo = g.Window(node, k);
            var (c, inner, outer) = (xs[1], xs[2] * xs[3], geo.OutSize[0] * geo.OutSize[1]);
            var indices = e.Nodes("MaxPool", [x], 2, [.. node.Attribute.Where(a => a.Name != "storage_order")])[1];
            var rows = e.Reshape(r, -1, c * outer);
            var routes = e.Node("Expand", [e.Reshape(indices, 1, c * outer), e.Node("Shape", [rows])]);
            var zeros = e.Node("ConstantOfShape", [e.Node("Concat", [e.Node("Shape", [rows], LrpEmitter.Int("start", 0), LrpEmitter.Int("end", 1)), e.IntConst(c * inner)], LrpEmitter.Int("axis", 0))],
                new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = LrpTensors.Floats("zero", [1], [0f]) });
            var routed = e.Node("ScatterElements", [zeros, routes, rows], LrpEmitter.Int("axis", 1), LrpEmitter.Str("reduction", "add"));
            return e.Reshape(routed, -1, c, xs[2], xs[3]);
        }

        private string PoolZ(NodeProto node, string r)
        {
            var x = node.Input[0];
            var c = g.Shape(x)[1];
            var k = LrpGraph.AttrInts(node, "kernel_shape")!;
            var geo = g.Window(node, k);
            var ones = e.FloatConst([c, 1, k[0], k[1]], [.. Enumerable.Repeat(1f, (int)(c * k[0] * k[1]))]);
            var s = e.Div(r, e.Stabilize(e.Conv(x, ones, geo, c), o.Epsilon));
            return e.Mul(x, e.Backward(s, ones, null, [c, 1, k[0], k[1]], geo, c));
        }

        private string Dense(NodeProto node, string r)
        {
            var x = node.Input[0];
            var b = FloatWeight(node.Input[1]);
            if (g.Shape(x).Length != 2 || g.Shape(node.Input[1]).Length != 2)
            {
                throw new LrpUnsupportedOperatorException(node.OpType, node.Name, "only 2-D matrix products are supported");
            }

            var transB = node.OpType == "Gemm" && LrpGraph.AttrInt(node, "transB", 0) != 0;
            if (node.OpType == "Gemm" && (LrpGraph.AttrInt(node, "transA", 0) != 0 || LrpGraph.AttrFloat(node, "alpha", 1f) != 1f))
            {
                throw new LrpUnsupportedOperatorException(node.OpType, node.Name, "transA and alpha ≠ 1 are not supported");
            }

            var s = e.Div(r, e.Stabilize(node.Output[0], o.Epsilon));
            var c = e.Node("Gemm", [s, b], LrpEmitter.Int("transB", transB ? 0 : 1));
            return e.Mul(x, c);
        }

        private static ValueInfoProto TensorInfo(string name, long[] dims)
        {
            var shape = new TensorShapeProto();
            foreach (var d in dims)
            {
                shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "K" } : new TensorShapeProto.Types.Dimension { DimValue = d });
            }

            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }
    }
}
