using Edge.Onnx;
using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Explain.Adaptation;

/// <summary>
/// What the adapter needs to know about a scoring graph (the imported emotion model and anything shaped like it):
/// its feature convolutions in graph order, and the head — the last Conv, whose output is averaged over space
/// (ReduceMean/GlobalAveragePool) into the logits that a Softmax turns into the scores.
/// </summary>
internal sealed class ScoringGraph
{
    private ScoringGraph(ModelProto model, IReadOnlyList<NodeProto> features, NodeProto? head)
    {
        Model = model;
        FeatureConvs = features;
        Head = head;
    }

    public ModelProto Model { get; }

    /// <summary>Every Conv except the head, in graph (topological) order.</summary>
    public IReadOnlyList<NodeProto> FeatureConvs { get; }

    /// <summary>The classifier Conv (conv → spatial mean → softmax), or null when the graph does not end that way.</summary>
    public NodeProto? Head { get; }

    public string InputName => Model.Graph.Input.First(i => Model.Graph.Initializer.All(t => t.Name != i.Name)).Name;

    public static ScoringGraph Read(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var nodes = model.Graph.Node;
        var convs = nodes.Where(n => n.OpType == "Conv").ToList();
        if (convs.Count == 0)
        {
            throw new InvalidDataException("the scoring model has no Conv node to adapt");
        }

        NodeProto? head = null;
        var last = convs[^1];
        var pool = nodes.SingleOrDefault(n => n.OpType is "ReduceMean" or "GlobalAveragePool" && n.Input[0] == last.Output[0]);
        if (pool is not null && nodes.Count(n => n.Input.Contains(last.Output[0])) == 1)
        {
            var soft = nodes.SingleOrDefault(n => n.OpType == "Softmax" && n.Input[0] == pool.Output[0]);
            var end = soft?.Output[0];
            while (end is not null && nodes.SingleOrDefault(n => n.OpType == "Identity" && n.Input[0] == end) is { } id)
            {
                end = id.Output[0];
            }

            if (end is not null && model.Graph.Output.Any(o => o.Name == end))
            {
                head = last;
            }
        }

        return new ScoringGraph(model, head is null ? convs : convs.Take(convs.Count - 1).ToList(), head);
    }

    /// <summary>A copy of the model with <paramref name="tensors"/> exposed as extra graph outputs.</summary>
    public static byte[] WithOutputs(ModelProto model, IEnumerable<string> tensors)
    {
        var copy = model.Clone();
        foreach (var name in tensors)
        {
            if (copy.Graph.Output.All(o => o.Name != name))
            {
                copy.Graph.Output.Add(new ValueInfoProto
                {
                    Name = name,
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorElementType.Float } },
                });
            }
        }

        return OnnxModel.ToBytes(copy);
    }

    /// <summary>Conv weight and bias (a zero bias when the Conv has none).</summary>
    public (float[] Weight, long[] Dims, float[] Bias) ReadConv(NodeProto conv)
    {
        var w = OnnxModel.FindInitializer(Model, conv.Input[1]) ?? throw new InvalidDataException($"Conv '{conv.Name}': weight '{conv.Input[1]}' is not an initializer");
        var weight = Tensors.ToFloatArray(w);
        var outC = (int)w.Dims[0];
        var bias = conv.Input.Count > 2 && conv.Input[2].Length > 0
            ? OnnxModel.ReadFloatInitializer(Model, conv.Input[2])
            : new float[outC];
        return (weight, [.. w.Dims], bias);
    }

    /// <summary>Replaces a Conv's weight and bias initializers (adding a bias input when it had none).</summary>
    public void WriteConv(NodeProto conv, float[] weight, long[] dims, float[] bias)
    {
        Replace(conv.Input[1], weight, dims);
        if (conv.Input.Count > 2 && conv.Input[2].Length > 0)
        {
            Replace(conv.Input[2], bias, [bias.Length]);
        }
        else
        {
            var name = conv.Output[0] + "/site_bias";
            Model.Graph.Initializer.Add(Tensors.Create(name, bias, bias.Length));
            if (conv.Input.Count > 2)
            {
                conv.Input[2] = name;
            }
            else
            {
                conv.Input.Add(name);
            }
        }
    }

    private void Replace(string name, float[] data, long[] dims)
    {
        var inits = Model.Graph.Initializer;
        var users = Model.Graph.Node.Count(n => n.Input.Contains(name));
        if (users != 1)
        {
            throw new InvalidDataException($"initializer '{name}' is shared by {users} nodes; adapting it would change more than one layer");
        }

        for (var i = 0; i < inits.Count; i++)
        {
            if (inits[i].Name == name)
            {
                inits[i] = Tensors.Create(name, data, dims);
                return;
            }
        }

        throw new InvalidDataException($"initializer '{name}' not found");
    }

    /// <summary>
    /// Runs <paramref name="modelBytes"/> over the crops in batches and hands each batch's named outputs to
    /// <paramref name="sink"/> (tensor data and shape; the batch is the first axis).
    /// </summary>
    public static void Run(OrtEnvironment env, byte[] modelBytes, string input, IReadOnlyList<float[]> crops, IReadOnlyList<string> outputs, Action<IReadOnlyList<NamedTensor>> sink, CancellationToken cancellationToken)
    {
        using var session = env.CreateSession(modelBytes, new SessionSettings());
        var info = session.Inputs.First(i => i.Name == input);
        var batch = info.Shape[0] switch
        {
            <= 0 => 32,
            1 => 1,
            _ => throw new InvalidDataException($"input '{input}' has a fixed batch of {info.Shape[0]}; the adapter needs a dynamic batch or 1"),
        };
        var per = 1L;
        for (var d = 1; d < info.Shape.Length; d++)
        {
            per *= info.Shape[d];
        }

        for (var start = 0; start < crops.Count; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = Math.Min(batch, crops.Count - start);
            var data = new float[n * per];
            for (var i = 0; i < n; i++)
            {
                var crop = crops[start + i];
                if (crop.Length != per)
                {
                    throw new ArgumentException($"crop {start + i} has {crop.Length} values, the model takes {per}", nameof(crops));
                }

                crop.CopyTo(data, i * per);
            }

            var shape = (long[])info.Shape.Clone();
            shape[0] = n;
            sink(session.Run([NamedTensor.FromFloat(input, data, shape)], outputs, cancellationToken));
        }
    }
}
