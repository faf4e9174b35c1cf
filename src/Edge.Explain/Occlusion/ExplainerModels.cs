using Edge.Onnx.Proto;

namespace Edge.Explain.Occlusion;

/// <summary>Prepares a scoring model for the LRP compiler.</summary>
public static class ExplainerModels
{
    /// <summary>
    /// The TF.js importer names each graph output with an Identity after the Softmax, and the LRP compiler wants the
    /// Softmax last. Drops such a trailing Identity (in place) and lets its producer write the graph output directly:
    /// same outputs, same values.
    /// </summary>
    public static ModelProto WithoutTrailingIdentity(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = model.Graph;
        foreach (var output in g.Output)
        {
            var id = g.Node.FirstOrDefault(n => n.OpType == "Identity" && n.Output[0] == output.Name);
            var producer = id is null ? null : g.Node.FirstOrDefault(n => n.Output.Contains(id.Input[0]));
            if (id is null || producer is null || g.Node.Count(n => n.Input.Contains(id.Input[0])) != 1 || g.Output.Any(o => o.Name == id.Input[0]))
            {
                continue;
            }

            producer.Output[producer.Output.IndexOf(id.Input[0])] = output.Name;
            g.Node.Remove(id);
        }

        return model;
    }
}
