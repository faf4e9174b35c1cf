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
    public void Int8Int8Activations() => _runners[nameof(Int8Int8Activations)].Runner.Run();

    /// <summary>Runs the benchmarks and returns the median per method (ms) as BenchmarkDotNet measured them.</summary>
    internal static IReadOnlyDictionary<string, double> Measure(string artifacts, bool quick, int invocations)
    {
        var job = Job.Default
            .WithToolchain(InProcessNoEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(quick ? 1 : 5)
            .WithIterationCount(quick ? 3 : 15)
            .WithInvocationCount(quick ? Math.Max(16, invocations / 10) : invocations)
            .WithUnrollFactor(1);
        var config = ManualConfig.CreateMinimumViable()
            .AddJob(job)
            .AddColumn(StatisticColumn.Median, StatisticColumn.P95)
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.DisableLogFile);
        var summary = BenchmarkRunner.Run<ModelLatency>(config);
        return summary.Reports
            .Where(r => r.ResultStatistics is not null)
            .ToDictionary(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name, r => r.ResultStatistics!.Median / 1e6, StringComparer.Ordinal);
    }
}
