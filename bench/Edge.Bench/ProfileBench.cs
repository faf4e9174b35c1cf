using System.Diagnostics;
using System.Globalization;
using Edge.Onnx.Graph;
using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Bench;

/// <summary>
/// `profile FP32 INT8`: where the time goes. Each model is cut after every float tensor a DequantizeLinear (int8) or
/// a weighted node (fp32) produces; all prefixes and both whole models take turns, one run each per round, and the
/// medians are printed cumulatively, so the difference between two rows is what the nodes between them cost.
/// Then the whole int8 model under a few session settings, interleaved with fp32.
/// </summary>
internal static class ProfileBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string fp32Path, string int8Path, int rounds)
    {
        var fp32 = OnnxModel.Load(fp32Path);
        var int8 = OnnxModel.Load(int8Path);
        var input = new float[64 * 64];
        var random = new Random(1);
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (float)random.NextDouble();
        }

        var variants = new List<(string Name, byte[] Model, SessionSettings Settings)>();
        var plain = new SessionSettings { IntraOpThreads = 1 };
        variants.Add(("fp32 whole", OnnxModel.ToBytes(fp32), plain));
        variants.Add(("int8 whole", OnnxModel.ToBytes(int8), plain));
        foreach (var (label, entries) in new (string, Dictionary<string, string>)[]
        {
            ("int8 no spinning", new() { ["session.intra_op.allow_spinning"] = "0" }),
            ("int8 disable_prepacking", new() { ["session.disable_prepacking"] = "1" }),
            ("int8 no cpu mem arena-ish (use_env_allocators)", new() { ["session.use_env_allocators"] = "1" }),
        })
        {
            variants.Add((label, OnnxModel.ToBytes(int8), plain with { ConfigEntries = entries }));
        }

        var fp32Settings = plain with { ConfigEntries = new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "0" } };
        variants.Add(("fp32 no spinning", OnnxModel.ToBytes(fp32), fp32Settings));
        foreach (var (name, tensor) in Cuts(int8, n => n.OpType == "DequantizeLinear" && !IsInitializer(int8, n.Input[0])))
        {
            variants.Add(($"int8 → {name}", OnnxModel.ToBytes(Prefix(int8, tensor)), plain));
        }

        foreach (var (name, tensor) in Cuts(fp32, n => n.OpType is "Conv" or "Add" or "MaxPool" or "Relu" or "ReduceMean" or "Transpose"))
        {
            variants.Add(($"fp32 → {name}", OnnxModel.ToBytes(Prefix(fp32, tensor)), plain));
        }

        using var environment = OrtEnvironment.Create();
        var runners = new List<(OrtSession Session, OrtRunner Runner)>();
        foreach (var (_, model, settings) in variants)
        {
            var session = environment.CreateSession(model, settings);
            var runner = session.CreateRunner();
            input.CopyTo(runner.Input(0));
            runners.Add((session, runner));
        }

        for (var w = 0; w < 50; w++)
        {
            runners.ForEach(r => r.Runner.Run());
        }

        var times = runners.Select(_ => new double[rounds]).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < runners.Count; k++)
            {
                var m = (k + round) % runners.Count;
                var start = Stopwatch.GetTimestamp();
                runners[m].Runner.Run();
                times[m][round] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }

        var baseline = times[0].Order().ElementAt(rounds / 2);
        for (var k = 0; k < variants.Count; k++)
        {
            var median = times[k].Order().ElementAt(rounds / 2);
            Console.WriteLine(string.Create(Inv, $"{variants[k].Name,-90} {median,8:F4} ms  {median / baseline,5:F2} × fp32"));
        }

        foreach (var (session, runner) in runners)
        {
            runner.Dispose();
            session.Dispose();
        }

        return 0;
    }

    private static bool IsInitializer(ModelProto model, string name) => model.Graph.Initializer.Any(t => t.Name == name);

    private static IEnumerable<(string Name, string Tensor)> Cuts(ModelProto model, Func<NodeProto, bool> where) =>
        model.Graph.Node.Where(where).Select(n => ($"{n.OpType} {Short(n.Name)}", n.Output[0]));

    private static string Short(string name) => name.Length > 60 ? name[^60..] : name;

    /// <summary>The model cut so that <paramref name="tensor"/> (float) is its only output; unused nodes dropped.</summary>
    private static ModelProto Prefix(ModelProto model, string tensor)
    {
        var copy = model.Clone();
        var graph = copy.Graph;
        var needed = new HashSet<string>(StringComparer.Ordinal) { tensor };
        var keep = new List<NodeProto>();
        foreach (var node in graph.Node.Reverse())
        {
            if (node.Output.Any(needed.Contains))
            {
                keep.Add(node);
                foreach (var i in node.Input)
                {
                    needed.Add(i);
                }
            }
        }

        keep.Reverse();
        graph.Node.Clear();
        graph.Node.AddRange(keep);
        var used = graph.Initializer.Where(t => needed.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(used);
        graph.Output.Clear();
        graph.Output.Add(new ValueInfoProto { Name = tensor, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        graph.ValueInfo.Clear();
        return copy;
    }
}

/// <summary>`graph FILE`: the nodes of an ONNX file in order (op type, domain, inputs → outputs), for reading ORT's optimised graph.</summary>
internal static class GraphDump
{
    public static int Run(string path)
    {
        foreach (var n in OnnxModel.Load(path).Graph.Node)
        {
            Console.WriteLine($"{n.OpType,-22} {n.Domain,-14} {string.Join(", ", n.Input.Select(Short))} → {string.Join(", ", n.Output.Select(Short))}  {string.Join(" ", n.Attribute.Select(a => a.Name + "=" + (a.Ints.Count > 0 ? string.Join(",", a.Ints) : a.I.ToString(System.Globalization.CultureInfo.InvariantCulture))))}");
        }

        return 0;

        static string Short(string s) => s.Length > 40 ? "…" + s[^39..] : s;
    }
}
