using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Edge.Onnx.Graph;
using Edge.Onnx.Runtime;

namespace Edge.Bench;

/// <summary>
/// `profile FP32 INT8 [INT8…]`: where the time goes. First the whole models, interleaved (they take turns, medians).
/// Then, per model, ORT's own profiler (SessionSettings.ProfilePrefix): the median kernel time of every node of
/// the optimised graph, back to back ("warm") and with one FP32 run before each run ("after fp32": caches hold the
/// float model's data, as when a kiosk runs the detector first). The profiler adds its own overhead per node, so read
/// node times relative to each other, and whole-model times from the interleaved rows.
/// </summary>
internal static class ProfileBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(IReadOnlyList<string> paths, int rounds)
    {
        var input = FaceCrops.Load(variants: false)[0].Input;
        using var environment = OrtEnvironment.Create();
        var plain = new SessionSettings { IntraOpThreads = 1 };
        var runners = paths.Select(p =>
        {
            var session = environment.CreateSession(p, plain);
            var runner = session.CreateRunner();
            input.CopyTo(runner.Input(0));
            return (Session: session, Runner: runner);
        }).ToList();
        try
        {
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

            Console.WriteLine($"whole models, interleaved ({rounds} rounds, medians):");
            var baseline = Median(times[0]);
            for (var k = 0; k < runners.Count; k++)
            {
                Console.WriteLine(string.Create(Inv, $"  {Path.GetFileName(paths[k]),-40} {Median(times[k]),8:F4} ms  {Median(times[k]) / baseline,5:F2} × {Path.GetFileName(paths[0])}"));
            }

            foreach (var path in paths)
            {
                var warm = NodeTimes(environment, path, input, before: null, rounds);
                var cold = NodeTimes(environment, path, input, before: runners[0].Runner, rounds);
                Console.WriteLine();
                Console.WriteLine(string.Create(Inv, $"{Path.GetFileName(path)}: ORT profiler, median µs per node (warm | after fp32)"));
                foreach (var (node, op, us) in warm)
                {
                    var other = cold.FirstOrDefault(c => c.Node == node).Us;
                    Console.WriteLine(string.Create(Inv, $"  {us,7:F1} | {other,7:F1}  {op,-18} {Short(node)}"));
                }

                Console.WriteLine(string.Create(Inv, $"  {warm.Sum(n => n.Us),7:F1} | {cold.Sum(n => n.Us),7:F1}  sum of node medians"));
            }
        }
        finally
        {
            foreach (var (session, runner) in runners)
            {
                runner.Dispose();
                session.Dispose();
            }
        }

        return 0;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>Per node of ORT's optimised graph, in run order: its median kernel time (µs) over the runs.</summary>
    private static List<(string Node, string Op, double Us)> NodeTimes(OrtEnvironment environment, string path, float[] input, OrtRunner? before, int rounds)
    {
        var directory = Directory.CreateTempSubdirectory("edge-profile-").FullName;
        try
        {
            using (var session = environment.CreateSession(path, new SessionSettings { IntraOpThreads = 1, ProfilePrefix = Path.Combine(directory, "trace") }))
            using (var runner = session.CreateRunner())
            {
                input.CopyTo(runner.Input(0));
                for (var i = 0; i < rounds; i++)
                {
                    before?.Run();
                    runner.Run();
                }
            }

            using var trace = JsonDocument.Parse(File.ReadAllBytes(Directory.GetFiles(directory, "trace*.json").Single()));
            var order = new List<(string Node, string Op)>();
            var durations = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            foreach (var e in trace.RootElement.EnumerateArray())
            {
                var name = e.GetProperty("name").GetString()!;
                if (e.GetProperty("cat").GetString() != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal))
                {
                    continue;
                }

                var node = name[..^"_kernel_time".Length];
                if (!durations.TryGetValue(node, out var list))
                {
                    durations[node] = list = [];
                    order.Add((node, e.GetProperty("args").GetProperty("op_name").GetString()!));
                }

                list.Add(e.GetProperty("dur").GetDouble());
            }

            return [.. order.Select(n => (n.Node, n.Op, Median(durations[n.Node])))];
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Short(string name) => name.Replace("StatefulPartitionedCall/model_1/", string.Empty, StringComparison.Ordinal);
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
