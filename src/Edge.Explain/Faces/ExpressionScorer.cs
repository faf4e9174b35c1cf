using Edge.Onnx.Models;
using Edge.Onnx.Runtime;

namespace Edge.Explain.Faces;

/// <summary>
/// The emotion model (fp32 or int8) on ONNX Runtime, one face per run through a preallocated runner.
/// Fill <see cref="Input"/> (64×64 normalised grey, e.g. with <see cref="FaceCrop.Extract"/>), call
/// <see cref="Score"/>. Not thread-safe.
/// </summary>
public sealed class ExpressionScorer : IDisposable
{
    private readonly OrtSession _session;
    private readonly OrtRunner _runner;

    public ExpressionScorer(OrtEnvironment environment, string modelPath, SessionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(environment);
        _session = environment.CreateSession(modelPath, settings);
        try
        {
            var input = _session.Inputs.Single();
            var output = _session.Outputs.Single();
            if (input.Shape.Length != 4 || input.Shape[1] != FaceCrop.Size || input.Shape[2] != FaceCrop.Size || input.Shape[3] != 1
                || output.Shape.Length != 2 || output.Shape[1] != Expressions.Count)
            {
                throw new InvalidDataException($"{modelPath}: {input} → {output} is not the emotion model (NHWC 64×64×1 → 7)");
            }

            _runner = _session.CreateRunner(new Dictionary<string, long[]>
            {
                [input.Name] = [1, FaceCrop.Size, FaceCrop.Size, 1],
                [output.Name] = [1, Expressions.Count],
            });
        }
        catch
        {
            _session.Dispose();
            throw;
        }

        ModelPath = modelPath;
        ModelSha256 = ModelBuilder.Sha256File(modelPath);
    }

    public string ModelPath { get; }

    /// <summary>SHA-256 (hex) of the model file that runs.</summary>
    public string ModelSha256 { get; }

    /// <summary>The 64×64 input buffer of the next <see cref="Score"/>.</summary>
    public Span<float> Input => _runner.Input(0);

    /// <summary>Runs the model on <see cref="Input"/> and copies the 7 probabilities into <paramref name="probabilities"/>.</summary>
    public void Score(Span<float> probabilities)
    {
        _runner.Run();
        _runner.Output(0).CopyTo(probabilities);
    }

    public void Dispose()
    {
        _runner.Dispose();
        _session.Dispose();
    }
}
