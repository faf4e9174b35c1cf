using System.Globalization;
using Edge.Onnx.Graph;
using Edge.Onnx.Proto;

namespace Edge.Onnx.TfJs;

/// <summary>
/// Converts a TF.js graph model into an equivalent ONNX model (opset 13).
/// <para>
/// Layout: graph inputs and outputs keep TensorFlow's layout (NHWC for images, e.g. <c>[N,64,64,1]</c>), so
/// callers feed interleaved pixels exactly as TF.js does; inside, every 4-D activation is NCHW, with one
/// Transpose after each 4-D input and one before each 4-D output or Reshape. Convolution filters are
/// re-laid out (<c>[kh,kw,I,O]</c> → <c>[O,I,kh,kw]</c>; depthwise <c>[kh,kw,C,m]</c> → <c>[C·m,1,kh,kw]</c>,
/// <c>group=C</c>), TF SAME padding becomes explicit pads (extra padding at the end, as SAME_UPPER), and
/// per-channel constants become <c>[C,1,1]</c>.
/// </para>
/// An op or attribute the importer does not know is a <see cref="TfJsImportException"/> naming the op and node.
/// </summary>
public static class TfJsImporter
{
    /// <summary>TF ops the importer converts (besides Const, Placeholder, Identity, NoOp).</summary>
    public static IReadOnlyList<string> SupportedOps { get; } =
    [
        "_FusedConv2D", "Conv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "MaxPool", "AvgPool",
        "AddV2", "Add", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "BiasAdd",
        "Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu", "Prelu",
        "Pad", "PadV2", "Reshape", "Mean", "Max", "Sum", "Softmax", "ConcatV2",
    ];

    /// <summary>Converts <paramref name="model"/>; metadata entries are copied into the ONNX model's metadata_props.</summary>
    public static ModelProto Convert(TfJsGraphModel model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var converter = new Converter(model);
        var proto = converter.Run();
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                proto.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
            }
        }

        return proto;
    }

    private static readonly int[] ToNchw = [0, 3, 1, 2];
    private static readonly int[] ToNhwc = [0, 2, 3, 1];

    /// <summary>A converted TF value: its ONNX name, TF-order shape (-1 unknown), and whether it is held NCHW.</summary>
    private sealed record Value(string Onnx, long[] Shape, bool Nchw, TfJsWeight? Const = null)
    {
        public int Rank => Shape.Length;
    }

    private sealed class Converter(TfJsGraphModel model)
    {
        private readonly OnnxGraphBuilder _b = new(SanitizeGraphName(model.Name), 13) { ProducerName = "Edge.Onnx.TfJs", ProducerVersion = "1" };
        private readonly Dictionary<string, TfJsNode> _nodes = model.Nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
        private readonly HashSet<string> _visiting = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _constNames = new(StringComparer.Ordinal);

        public ModelProto Run()
        {
            var outputs = model.SignatureOutputs.Count > 0 ? model.SignatureOutputs : Sinks();
            if (outputs.Count == 0)
            {
                throw new TfJsImportException($"model '{model.Name}' has no outputs");
            }

            // Inputs first, in node order, so the ONNX input order follows the TF.js model.
            foreach (var n in model.Nodes.Where(n => n.Op == "Placeholder"))
            {
                Visit(n.Name);
            }

            var outValues = outputs.Select(o => (Name: o, Value: Visit(o))).ToList();
            foreach (var (name, v) in outValues)
            {
                var src = v.Nchw ? Transpose(v.Onnx, ToNhwc) : v.Onnx;
                _b.AddNode("Identity", [src], [name], name: name + "/output");
                _b.AddOutput(name, TensorElementType.Float, [.. v.Shape.Select(Dim)]);
            }

            return _b.Build();
        }

        private List<string> Sinks()
        {
            var used = new HashSet<string>(model.Nodes.SelectMany(n => n.Inputs).Select(i => ParseInput(i, null).Name), StringComparer.Ordinal);
            return [.. model.Nodes.Where(n => n.Op is not ("Const" or "Placeholder" or "NoOp") && !used.Contains(n.Name)).Select(n => n.Name).Order(StringComparer.Ordinal)];
        }

        private Value Visit(string name)
        {
            if (_values.TryGetValue(name, out var done))
            {
                return done;
            }

            if (!_nodes.TryGetValue(name, out var node))
            {
                throw new TfJsImportException($"model '{model.Name}': value '{name}' is used but no node produces it");
            }

            if (!_visiting.Add(name))
            {
                throw new TfJsImportException($"model '{model.Name}': node '{name}' is part of a cycle");
            }

            var inputs = node.Inputs.Where(i => !i.StartsWith('^')).Select(i => Visit(ParseInput(i, node).Name)).ToArray();
            var value = Convert(node, inputs);
            _visiting.Remove(name);
            _values[name] = value;
            return value;
        }

        private static (string Name, int Index) ParseInput(string input, TfJsNode? node)
        {
            var name = input.TrimStart('^');
            var colon = name.LastIndexOf(':');
            if (colon > 0 && int.TryParse(name.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                if (index != 0 && node is not null)
                {
                    throw new TfJsImportException($"node '{node.Name}' ({node.Op}) reads output {index} of '{name[..colon]}'; multi-output ops are not supported");
                }

                return (name[..colon], index);
            }

            return (name, 0);
        }

        private Value Convert(TfJsNode n, Value[] x)
        {
            switch (n.Op)
            {
                case "Const":
                    return new Value(n.Name, model.Weights.TryGetValue(n.Name, out var w) ? w.Shape : throw Fail(n, "has no weight in the manifest"), false, w);
                case "Placeholder":
                    return Placeholder(n);
                case "Identity" or "StopGradient" or "NoOp" when x.Length == 1:
                    return x[0];
                case "_FusedConv2D" or "FusedDepthwiseConv2dNative":
                    return FusedConv(n, x, depthwise: n.Op != "_FusedConv2D");
                case "Conv2D":
                    return Conv(n, x[0], Const(n, x, 1), null, depthwise: false, n.Name);
                case "DepthwiseConv2dNative":
                    return Conv(n, x[0], Const(n, x, 1), null, depthwise: true, n.Name);
                case "MaxPool" or "AvgPool":
                    return Pool(n, x[0]);
                case "AddV2" or "Add" or "BiasAdd":
                    return Binary(n, "Add", x);
                case "Sub":
                    return Binary(n, "Sub", x);
                case "Mul":
                    return Binary(n, "Mul", x);
                case "RealDiv":
                    return Binary(n, "Div", x);
                case "Maximum":
                    return Binary(n, "Max", x);
                case "Minimum":
                    return Binary(n, "Min", x);
                case "Relu" or "Relu6" or "Elu" or "Sigmoid" or "Tanh" or "LeakyRelu":
                    return Activation(n, n.Op, Activation(n, x[0]), n.Name, null, n.GetFloat("alpha", 0.2f));
                case "Prelu":
                    return Activation(n, "Prelu", Activation(n, x[0]), n.Name, Const(n, x, 1), 0);
                case "Pad" or "PadV2":
                    return Pad(n, x);
                case "Reshape":
                    return Reshape(n, x);
                case "Mean" or "Max" or "Sum":
                    return Reduce(n, x);
                case "Softmax":
                    return Softmax(n, x[0]);
                case "ConcatV2":
                    return Concat(n, x);
                default:
                    throw new TfJsImportException(
                        $"model '{model.Name}': unsupported TF op '{n.Op}' at node '{n.Name}' (supported: {string.Join(", ", SupportedOps)})");
            }
        }

        private Value Placeholder(TfJsNode n)
        {
            var shape = n.GetShape("shape");
            var dtype = n.HasAttribute("dtype") ? DType(n) : "DT_FLOAT";
            if (dtype != "DT_FLOAT")
            {
                throw Fail(n, $"is an input of type {dtype}; only float inputs are supported");
            }

            _b.AddInput(n.Name, TensorElementType.Float, [.. shape.Select(Dim)]);
            return shape.Length == 4 ? new Value(Transpose(n.Name, ToNchw, n.Name + "/to_nchw"), shape, true) : new Value(n.Name, shape, false);
        }

        private static string DType(TfJsNode n) =>
            n.Attributes.TryGetProperty("dtype", out var d) && d.TryGetProperty("type", out var t) ? t.GetString() ?? "DT_FLOAT" : "DT_FLOAT";

        private Value FusedConv(TfJsNode n, Value[] x, bool depthwise)
        {
            var ops = n.GetStrings("fused_ops");
            var numArgs = (int)n.GetInt("num_args", x.Length - 2);
            if (x.Length != 2 + numArgs)
            {
                throw Fail(n, $"has {x.Length} inputs but num_args={numArgs}");
            }

            if (ops.Length == 0 || ops[0] != "BiasAdd")
            {
                throw Fail(n, $"fuses [{string.Join(", ", ops)}]; only BiasAdd followed by an optional activation is supported");
            }

            if (ops.Length > 2)
            {
                throw Fail(n, $"fuses [{string.Join(", ", ops)}]; at most one activation after BiasAdd is supported");
            }

            var activation = ops.Length == 2 ? ops[1] : null;
            var bias = Const(n, x, 2);
            var conv = Conv(n, x[0], Const(n, x, 1), bias, depthwise, activation is null ? n.Name : n.Name + "/conv");
            if (activation is null)
            {
                return conv;
            }

            var alpha = activation == "Prelu" ? Const(n, x, 3) : null;
            return Activation(n, activation, conv, n.Name, alpha, n.GetFloat("leakyrelu_alpha", 0.2f));
        }

        private Value Conv(TfJsNode n, Value x, TfJsWeight filter, TfJsWeight? bias, bool depthwise, string outName)
        {
            RequireNchw(n, x);
            if (n.GetString("data_format", "NHWC") != "NHWC")
            {
                throw Fail(n, "uses data_format other than NHWC");
            }

            if (filter.Shape.Length != 4 || filter.Floats is null)
            {
                throw Fail(n, $"has a filter of shape [{string.Join(",", filter.Shape)}]; a float 4-D filter is expected");
            }

            var strides = n.GetInts("strides", [1, 1, 1, 1]);
            var dilations = n.GetInts("dilations", [1, 1, 1, 1]);
            if (strides.Length != 4 || strides[0] != 1 || strides[3] != 1 || dilations.Length != 4 || dilations[0] != 1 || dilations[3] != 1)
            {
                throw Fail(n, "has strides or dilations on the batch or channel axis");
            }

            int kh = (int)filter.Shape[0], kw = (int)filter.Shape[1], ci = (int)filter.Shape[2], co = (int)filter.Shape[3];
            if (x.Shape[3] >= 0 && x.Shape[3] != ci)
            {
                throw Fail(n, $"filter expects {ci} input channels but the input has {x.Shape[3]}");
            }

            var f = filter.Floats;
            float[] w;
            long[] wShape;
            var group = 1;
            var outChannels = co;
            if (depthwise)
            {
                // [kh,kw,C,m] -> [C*m,1,kh,kw]; output channel c*m + j, as TF orders depthwise outputs.
                outChannels = ci * co;
                group = ci;
                w = new float[f.Length];
                for (var y = 0; y < kh; y++)
                {
                    for (var xx = 0; xx < kw; xx++)
                    {
                        for (var c = 0; c < ci; c++)
                        {
                            for (var j = 0; j < co; j++)
                            {
                                w[((((c * co) + j) * kh) + y) * kw + xx] = f[(((((y * kw) + xx) * ci) + c) * co) + j];
                            }
                        }
                    }
                }

                wShape = [outChannels, 1, kh, kw];
            }
            else
            {
                w = new float[f.Length];
                for (var y = 0; y < kh; y++)
                {
                    for (var xx = 0; xx < kw; xx++)
                    {
                        for (var i = 0; i < ci; i++)
                        {
                            for (var o = 0; o < co; o++)
                            {
                                w[((((o * ci) + i) * kh) + y) * kw + xx] = f[(((((y * kw) + xx) * ci) + i) * co) + o];
                            }
                        }
                    }
                }

                wShape = [co, ci, kh, kw];
            }

            var (oh, padT, padB) = Window(n, x.Shape[1], kh, (int)strides[1], (int)dilations[1]);
            var (ow, padL, padR) = Window(n, x.Shape[2], kw, (int)strides[2], (int)dilations[2]);
            var wName = Initializer(n.Name + "/W", w, wShape);
            var inputs = new List<string> { x.Onnx, wName };
            if (bias is not null)
            {
                if (bias.Floats is null || bias.ElementCount != outChannels)
                {
                    throw Fail(n, $"has a bias of {bias.ElementCount} values for {outChannels} output channels");
                }

                inputs.Add(Initializer(n.Name + "/B", bias.Floats, [outChannels]));
            }

            _b.AddNode(
                "Conv",
                inputs,
                [outName],
                [
                    Attr.Ints("dilations", dilations[1], dilations[2]),
                    Attr.Int("group", group),
                    Attr.Ints("kernel_shape", kh, kw),
                    Attr.Ints("pads", padT, padL, padB, padR),
                    Attr.Ints("strides", strides[1], strides[2]),
                ],
                name: outName);
            return new Value(outName, [x.Shape[0], oh, ow, outChannels], true);
        }

        /// <summary>Output size and (begin, end) padding of one spatial axis under TF's padding rules.</summary>
        private static (long Out, long Begin, long End) Window(TfJsNode n, long size, int k, int stride, int dilation)
        {
            if (size < 0)
            {
                throw Fail(n, "has an input of unknown spatial size; the importer needs fixed height and width");
            }

            var effective = ((k - 1) * dilation) + 1;
            var padding = n.GetString("padding", "VALID");
            switch (padding)
            {
                case "VALID":
                    return ((size - effective + stride) / stride, 0, 0);
                case "SAME":
                    var o = (size + stride - 1) / stride;
                    var total = Math.Max(((o - 1) * stride) + effective - size, 0);
                    return (o, total / 2, total - (total / 2));
                case "EXPLICIT":
                    throw Fail(n, "uses EXPLICIT padding, which is not supported");
                default:
                    throw Fail(n, $"uses unknown padding '{padding}'");
            }
        }

        private Value Pool(TfJsNode n, Value x)
        {
            RequireNchw(n, x);
            var k = n.GetInts("ksize");
            var s = n.GetInts("strides");
            if (k.Length != 4 || k[0] != 1 || k[3] != 1 || s.Length != 4 || s[0] != 1 || s[3] != 1)
            {
                throw Fail(n, "pools over the batch or channel axis");
            }

            var (oh, pt, pb) = Window(n, x.Shape[1], (int)k[1], (int)s[1], 1);
            var (ow, pl, pr) = Window(n, x.Shape[2], (int)k[2], (int)s[2], 1);
            var attributes = new List<AttributeProto>
            {
                Attr.Ints("kernel_shape", k[1], k[2]),
                Attr.Ints("pads", pt, pl, pb, pr),
                Attr.Ints("strides", s[1], s[2]),
            };
            if (n.Op == "AvgPool")
            {
                attributes.Add(Attr.Int("count_include_pad", 0));
            }

            _b.AddNode(n.Op == "MaxPool" ? "MaxPool" : "AveragePool", [x.Onnx], [n.Name], attributes, name: n.Name);
            return new Value(n.Name, [x.Shape[0], oh, ow, x.Shape[3]], true);
        }

        private Value Binary(TfJsNode n, string op, Value[] x)
        {
            if (x.Length != 2)
            {
                throw Fail(n, $"has {x.Length} inputs; 2 expected");
            }

            var nchw = x.Any(v => v.Nchw);
            var shape = Broadcast(n, x[0].Shape, x[1].Shape);
            var names = x.Select(v => Operand(n, v, nchw)).ToArray();
            _b.AddNode(op, names, [n.Name], name: n.Name);
            return new Value(n.Name, shape, nchw);
        }

        /// <summary>The ONNX name of an operand; constants next to an NCHW activation are re-laid out to broadcast the same way.</summary>
        private string Operand(TfJsNode n, Value v, bool nchw)
        {
            if (v.Const is { } c)
            {
                var data = c.Floats ?? throw Fail(n, $"uses int32 constant '{c.Name}' in float arithmetic");
                if (!nchw || c.Shape.Length == 0 || c.ElementCount == 1)
                {
                    return Initializer(c.Name, data, c.Shape);
                }

                // Right-align to rank 4 (TF broadcasting), then NHWC -> NCHW.
                var s4 = new long[4];
                var pad = 4 - c.Shape.Length;
                for (var i = 0; i < 4; i++)
                {
                    s4[i] = i < pad ? 1 : c.Shape[i - pad];
                }

                return Initializer(c.Name + "/nchw", PermuteData(data, s4, ToNchw), [.. ToNchw.Select(p => s4[p])]);
            }

            if (nchw && !v.Nchw && v.Rank > 0)
            {
                throw Fail(n, $"mixes a {v.Rank}-D tensor with a 4-D image tensor; such broadcasting is not supported");
            }

            return v.Onnx;
        }

        private Value Activation(TfJsNode n, string activation, Value x, string outName, TfJsWeight? alpha, float leakyAlpha)
        {
            switch (activation)
            {
                case "Relu":
                    _b.AddNode("Relu", [x.Onnx], [outName], name: outName);
                    break;
                case "Relu6":
                    _b.AddNode("Clip", [x.Onnx, Scalar(0f), Scalar(6f)], [outName], name: outName);
                    break;
                case "Elu":
                    _b.AddNode("Elu", [x.Onnx], [outName], [Attr.Float("alpha", 1f)], name: outName);
                    break;
                case "Sigmoid":
                    _b.AddNode("Sigmoid", [x.Onnx], [outName], name: outName);
                    break;
                case "Tanh":
                    _b.AddNode("Tanh", [x.Onnx], [outName], name: outName);
                    break;
                case "LeakyRelu":
                    _b.AddNode("LeakyRelu", [x.Onnx], [outName], [Attr.Float("alpha", leakyAlpha)], name: outName);
                    break;
                case "Prelu":
                    var slope = Operand(n, new Value(alpha!.Name, alpha.Shape, false, alpha), x.Nchw);
                    _b.AddNode("PRelu", [x.Onnx, slope], [outName], name: outName);
                    break;
                default:
                    throw Fail(n, $"fuses unsupported activation '{activation}'");
            }

            return x with { Onnx = outName, Const = null };
        }

        private static Value Activation(TfJsNode n, Value x) => x.Const is null ? x : throw Fail(n, "applies an activation to a constant");

        private Value Pad(TfJsNode n, Value[] x)
        {
            var v = x[0];
            var p = Const(n, x, 1).Ints ?? throw Fail(n, "has non-integer paddings");
            if (p.Length != 2 * v.Rank)
            {
                throw Fail(n, $"has {p.Length / 2} padding pairs for a {v.Rank}-D input");
            }

            var value = 0f;
            if (n.Op == "PadV2")
            {
                var cv = Const(n, x, 2);
                value = cv.Floats is { Length: 1 } fv ? fv[0] : throw Fail(n, "has a non-scalar constant value");
            }

            var perm = v.Nchw ? ToNchw : [.. Enumerable.Range(0, v.Rank)];
            var pads = new long[2 * v.Rank];
            var shape = (long[])v.Shape.Clone();
            for (var j = 0; j < v.Rank; j++)
            {
                pads[j] = p[2 * perm[j]];
                pads[v.Rank + j] = p[(2 * perm[j]) + 1];
            }

            for (var a = 0; a < v.Rank; a++)
            {
                shape[a] = shape[a] < 0 ? -1 : shape[a] + p[2 * a] + p[(2 * a) + 1];
            }

            var padsName = Initializer(n.Name + "/pads", pads, [pads.Length]);
            _b.AddNode("Pad", [v.Onnx, padsName, Scalar(value)], [n.Name], [Attr.String("mode", "constant")], name: n.Name);
            return new Value(n.Name, shape, v.Nchw);
        }

        private Value Reshape(TfJsNode n, Value[] x)
        {
            var v = x[0];
            var target = Const(n, x, 1).Ints ?? throw Fail(n, "has a non-integer shape");
            var input = v.Nchw ? Transpose(v.Onnx, ToNhwc) : v.Onnx;
            var shape = target.Select(t => (long)t).ToArray();
            var known = v.Shape.All(d => d >= 0) ? v.Shape.Aggregate(1L, (a, b) => a * b) : -1;
            var minus = Array.IndexOf(shape, -1L);
            if (minus >= 0 && known >= 0)
            {
                shape[minus] = known / shape.Where((d, i) => i != minus).Aggregate(1L, (a, b) => a * b);
            }

            var shapeName = Initializer(n.Name + "/shape", target.Select(t => (long)t).ToArray(), [target.Length]);
            if (shape.Length == 4)
            {
                var nhwc = _b.UniqueName("edge/reshaped");
                _b.AddNode("Reshape", [input, shapeName], [nhwc], name: n.Name);
                return new Value(Transpose(nhwc, ToNchw, n.Name + "/to_nchw"), shape, true);
            }

            _b.AddNode("Reshape", [input, shapeName], [n.Name], name: n.Name);
            return new Value(n.Name, shape, false);
        }

        private Value Reduce(TfJsNode n, Value[] x)
        {
            var v = x[0];
            var axes = (Const(n, x, 1).Ints ?? throw Fail(n, "has non-integer axes")).Select(a => a < 0 ? a + v.Rank : a).Distinct().Order().ToArray();
            var keep = n.GetBool("keep_dims", false);
            var input = v.Onnx;
            var nchw = v.Nchw;
            long[] onnxAxes;
            if (nchw && (keep || (axes.Contains(1) && axes.Contains(2))))
            {
                // Reducing over H and W (or keeping dims) leaves the remaining axes in the same order in both layouts.
                onnxAxes = [.. axes.Select(a => (long)Array.IndexOf(ToNchw, a)).Order()];
            }
            else
            {
                if (nchw)
                {
                    input = Transpose(input, ToNhwc);
                    nchw = false;
                }

                onnxAxes = [.. axes.Select(a => (long)a)];
            }

            var shape = keep
                ? v.Shape.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray()
                : v.Shape.Where((d, i) => !axes.Contains(i)).ToArray();
            var op = n.Op switch { "Mean" => "ReduceMean", "Max" => "ReduceMax", _ => "ReduceSum" };
            if (op == "ReduceSum")
            {
                var axesName = Initializer(n.Name + "/axes", onnxAxes, [onnxAxes.Length]);
                _b.AddNode(op, [input, axesName], [n.Name], [Attr.Int("keepdims", keep ? 1 : 0)], name: n.Name);
            }
            else
            {
                _b.AddNode(op, [input], [n.Name], [Attr.Ints("axes", onnxAxes), Attr.Int("keepdims", keep ? 1 : 0)], name: n.Name);
            }

            return new Value(n.Name, shape, nchw && shape.Length == 4);
        }

        private Value Softmax(TfJsNode n, Value x)
        {
            _b.AddNode("Softmax", [x.Onnx], [n.Name], [Attr.Int("axis", x.Nchw ? 1 : -1)], name: n.Name);
            return x with { Onnx = n.Name, Const = null };
        }

        private Value Concat(TfJsNode n, Value[] x)
        {
            var axisConst = x[^1].Const?.Ints is { Length: 1 } a ? a[0] : throw Fail(n, "has a non-constant axis");
            var parts = x[..^1];
            var rank = parts[0].Rank;
            var axis = axisConst < 0 ? axisConst + rank : axisConst;
            var nchw = parts.Any(p => p.Nchw);
            if (nchw && !parts.All(p => p.Nchw || p.Const is not null))
            {
                throw Fail(n, "concatenates 4-D image tensors with other tensors");
            }

            var names = parts.Select(p => p.Const is { Floats: { } f } c ? Initializer(c.Name + (nchw ? "/nchw" : string.Empty), nchw ? PermuteData(f, c.Shape, ToNchw) : f, nchw ? [.. ToNchw.Select(i => c.Shape[i])] : c.Shape) : p.Onnx).ToArray();
            var onnxAxis = nchw ? Array.IndexOf(ToNchw, axis) : axis;
            _b.AddNode("Concat", names, [n.Name], [Attr.Int("axis", onnxAxis)], name: n.Name);
            var shape = (long[])parts[0].Shape.Clone();
            shape[axis] = parts.Any(p => p.Shape[axis] < 0) ? -1 : parts.Sum(p => p.Shape[axis]);
            return new Value(n.Name, shape, nchw);
        }

        private static long[] Broadcast(TfJsNode n, long[] a, long[] b)
        {
            var rank = Math.Max(a.Length, b.Length);
            var r = new long[rank];
            for (var i = 0; i < rank; i++)
            {
                var da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
                var db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
                r[i] = da == 1 ? db : db == 1 ? da : da == db || da < 0 || db < 0 ? Math.Max(da, db) : throw Fail(n, $"cannot broadcast [{string.Join(",", a)}] with [{string.Join(",", b)}]");
            }

            return r;
        }

        private static float[] PermuteData(float[] data, long[] shape, int[] perm)
        {
            var rank = shape.Length;
            var outShape = perm.Select(p => shape[p]).ToArray();
            var inStrides = new long[rank];
            var stride = 1L;
            for (var i = rank - 1; i >= 0; i--)
            {
                inStrides[i] = stride;
                stride *= shape[i];
            }

            var result = new float[data.Length];
            var index = new long[rank];
            for (var o = 0; o < result.Length; o++)
            {
                long src = 0;
                for (var j = 0; j < rank; j++)
                {
                    src += index[j] * inStrides[perm[j]];
                }

                result[o] = data[src];
                for (var j = rank - 1; j >= 0; j--)
                {
                    if (++index[j] < outShape[j])
                    {
                        break;
                    }

                    index[j] = 0;
                }
            }

            return result;
        }

        private string Transpose(string input, int[] perm, string? outName = null)
        {
            var output = outName ?? _b.UniqueName("edge/transposed");
            _b.AddNode("Transpose", [input], [output], [Attr.Ints("perm", [.. perm.Select(p => (long)p)])], name: output);
            return output;
        }

        private string Initializer(string name, float[] data, long[] dims)
        {
            if (_constNames.TryGetValue(name, out var existing))
            {
                return existing;
            }

            var unique = _b.IsNameUsed(name) ? _b.UniqueName(name) : name;
            _b.AddInitializer(unique, data, dims);
            _constNames[name] = unique;
            return unique;
        }

        private string Initializer(string name, long[] data, long[] dims)
        {
            var unique = _b.IsNameUsed(name) ? _b.UniqueName(name) : name;
            _b.AddInitializer(unique, data, dims);
            return unique;
        }

        private string Scalar(float value)
        {
            var key = "edge/scalar_" + value.ToString("R", CultureInfo.InvariantCulture);
            return Initializer(key, [value], []);
        }

        private TfJsWeight Const(TfJsNode n, Value[] x, int index)
        {
            if (index >= x.Length)
            {
                throw Fail(n, $"has {x.Length} inputs; input {index} is needed");
            }

            return x[index].Const ?? throw Fail(n, $"input {index} must be a constant (weights, shape, paddings or axes)");
        }

        private static void RequireNchw(TfJsNode n, Value x)
        {
            if (!x.Nchw)
            {
                throw Fail(n, $"needs a 4-D image tensor but got a {x.Rank}-D tensor");
            }
        }

        private static Dim Dim(long d) => d < 0 ? "N" : d;

        private static string SanitizeGraphName(string name) => string.IsNullOrWhiteSpace(name) ? "tfjs" : name;

        private static TfJsImportException Fail(TfJsNode n, string message) => new($"node '{n.Name}' ({n.Op}) {message}");
    }
}
