using Edge.Onnx.Graph;
using Edge.Onnx.Lrp;
using Edge.Onnx.Proto;
using Edge.Onnx.Runtime;

namespace Edge.Explain.Explanations;

/// <summary>
/// One compiled explainer session and an allocation-free runner for a fixed number of maps per run.
/// A run scores one face and returns, for each requested class (−1 = the top class, picked inside the
/// graph), its input-space relevance map. Not thread-safe: one per thread.
/// </summary>
public sealed class FaceExplainer : IDisposable
{
    /// <summary>Class index that means "the top class of this face".</summary>
    public const int TopClass = -1;

    private readonly OrtSession _session;
    private readonly OrtRunner _runner;
    private readonly int _input;
    private readonly int _target;
    private readonly int _scores;
    private readonly int _logits;
    private readonly int _map;

    private FaceExplainer(LrpExplainer compiled, OrtSession session, int maps)
    {
        Compiled = compiled;
        Maps = maps;
        _session = session;
        try
        {
            _runner = session.CreateRunner(new Dictionary<string, long[]>
            {
                [compiled.Input] = compiled.InputShape,
                [compiled.TargetInput] = [maps, compiled.Classes],
                [compiled.MapOutput] = [maps, compiled.MapHeight, compiled.MapWidth],
            });
        }
        catch
        {
            session.Dispose();
            throw;
        }

        _input = _runner.InputIndex(compiled.Input);
        _target = _runner.InputIndex(compiled.TargetInput);
        _scores = _runner.OutputIndex(compiled.ScoreOutputs[0]);
        _logits = _runner.OutputIndex(compiled.LogitsOutput);
        _map = _runner.OutputIndex(compiled.MapOutput);
    }

    public LrpExplainer Compiled { get; }

    /// <summary>Maps per run (K).</summary>
    public int Maps { get; }

    public int MapPixels => Compiled.MapHeight * Compiled.MapWidth;

    /// <summary>Compiles <paramref name="scoring"/> with <paramref name="options"/> and opens a session for <paramref name="maps"/> maps per run.</summary>
    public static FaceExplainer Create(OrtEnvironment environment, ModelProto scoring, LrpOptions options, int maps, SessionSettings? settings = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maps, 1);
        var compiled = LrpCompiler.Compile(scoring, options with { Maps = maps });
        var session = environment.CreateSession(OnnxModel.ToBytes(compiled.Model), settings ?? SessionSettings.Default);
        return new FaceExplainer(compiled, session, maps);
    }

    /// <summary>
    /// Runs once. <paramref name="input"/> is the model input (e.g. 64×64 grey in [−1, 1]); <paramref name="classes"/>
    /// has <see cref="Maps"/> entries (class index or <see cref="TopClass"/>). Writes the probabilities, the logits
    /// and <see cref="Maps"/> row-major maps of <see cref="MapPixels"/> values each.
    /// </summary>
    public void Explain(ReadOnlySpan<float> input, ReadOnlySpan<int> classes, Span<float> scores, Span<float> logits, Span<float> maps)
    {
        if (classes.Length != Maps)
        {
            throw new ArgumentException($"expected {Maps} classes, got {classes.Length}", nameof(classes));
        }

        input.CopyTo(_runner.Input(_input));
        var target = _runner.Input(_target);
        target.Clear();
        for (var k = 0; k < Maps; k++)
        {
            if (classes[k] != TopClass)
            {
                if ((uint)classes[k] >= (uint)Compiled.Classes)
                {
                    throw new ArgumentOutOfRangeException(nameof(classes), classes[k], $"the model has {Compiled.Classes} classes (0–{Compiled.Classes - 1}, or TopClass)");
                }

                target[(k * Compiled.Classes) + classes[k]] = 1f;
            }
        }

        _runner.Run();
        _runner.Output(_scores).CopyTo(scores);
        _runner.Output(_logits).CopyTo(logits);
        _runner.Output(_map).CopyTo(maps);
    }

    public void Dispose()
    {
        _runner.Dispose();
        _session.Dispose();
    }
}
