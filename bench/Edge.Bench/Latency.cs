using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.NoEmit;
using Edge.Onnx.Runtime;

namespace Edge.Bench;

/// <summary>
/// One model per benchmark method, each behind an allocation-free <see cref="OrtRunner"/>: one ORT intra-op thread,
/// batch 1, optimisation level all, a real input. The float model is the baseline, so BenchmarkDotNet's Ratio column
/// is the int8 ÷ fp32 latency from this one run.
/// </summary>
public class ModelLatency
{
    /// <summary>Set before the run (in-process toolchain): benchmark name → (model file, one input).</summary>
    internal static IReadOnlyDictionary<string, (string Model, float[] Input)> Models { get; set; } = new Dictionary<string, (string, float[])>();

    private OrtEnvironment? _environment;
    private readonly Dictionary<string, (OrtSession Session, OrtRunner Runner)> _runners = new(StringComparer.Ordinal);

    [GlobalSetup]
    public void Setup()
    {
        _environment = OrtEnvironment.Create();
        foreach (var (name, (model, input)) in Models)
        {
            var session = _environment.CreateSession(model, new SessionSettings { IntraOpThreads = 1 });
            var runner = session.CreateRunner();
            input.CopyTo(runner.Input(0));
            runner.Run();
            _runners[name] = (session, runner);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (session, runner) in _runners.Values)
        {
            runner.Dispose();
            session.Dispose();
        }

        _environment?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void Fp32() => _runners[nameof(Fp32)].Runner.Run();

    [Benchmark]
    public void Int8UInt8Activations() => _runners[nameof(Int8UInt8Activations)].Runner.Run();

    [Benchmark]
    public void Int8PreviousDefault() => _runners[nameof(Int8PreviousDefault)].Runner.Run();

    [Benchmark]
    public void Int8Int8Activations() => _runners[nameof(Int8Int8Activations)].Runner.Run();

    /// <summary>
    /// A cross-check robust to a shared machine's load drifting between BenchmarkDotNet's sequential benchmarks: the
    /// models take turns, one run each per round, and each model's median over all rounds is returned (ms).
    /// </summary>
    internal static IReadOnlyDictionary<string, double> Interleaved(int rounds)
    {
        using var environment = OrtEnvironment.Create();
        var runners = new List<(string Name, OrtSession Session, OrtRunner Runner)>();
        try
        {
            foreach (var (name, (model, input)) in Models.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                var session = environment.CreateSession(model, new SessionSettings { IntraOpThreads = 1 });
                var runner = session.CreateRunner();
                input.CopyTo(runner.Input(0));
                runners.Add((name, session, runner));
            }

            for (var warm = 0; warm < 20; warm++)
            {
                runners.ForEach(r => r.Runner.Run());
            }

            var times = runners.Select(_ => new double[rounds]).ToArray();
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < runners.Count; k++)
                {
                    var m = (k + round) % runners.Count;
                    var start = System.Diagnostics.Stopwatch.GetTimestamp();
                    runners[m].Runner.Run();
                    times[m][round] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }

            return runners.Select((r, k) => (r.Name, Median: times[k].Order().ElementAt(rounds / 2)))
                .ToDictionary(x => x.Name, x => x.Median, StringComparer.Ordinal);
        }
        finally
        {
            foreach (var (_, session, runner) in runners)
            {
                runner.Dispose();
                session.Dispose();
            }
        }
    }

    /// <summary>Runs the benchmarks and returns the median per method (ms) as BenchmarkDotNet measured them.</summary>
    internal static IReadOnlyDictionary<string, double> Measure(string artifacts, bool quick, int invocations)
    {
        var job = Job.Default
            .WithToolchain(InProcessNoEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(quick ? 1 : 5)
            .WithIterationCount(quick ? 3 : 10)
            .WithInvocationCount(quick ? Math.Max(16, invocations / 10) : invocations)
            .WithUnrollFactor(1);
        var config = ManualConfig.CreateMinimumViable()
            .AddJob(job)
            .AddColumn(StatisticColumn.Median, StatisticColumn.P95)
            .AddFilter(new BenchmarkDotNet.Filters.SimpleFilter(b => Models.ContainsKey(b.Descriptor.WorkloadMethod.Name)))
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.DisableLogFile);
        var summary = BenchmarkRunner.Run<ModelLatency>(config);
        return summary.Reports
            .Where(r => r.ResultStatistics is not null)
            .ToDictionary(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name, r => r.ResultStatistics!.Median / 1e6, StringComparer.Ordinal);
    }
}
