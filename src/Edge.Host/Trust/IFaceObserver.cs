using Edge.Explain;

namespace Edge.Host.Pipeline;

/// <summary>
/// Sees every scored face after the pipeline has flagged and (maybe) explained it — the drift watch and the
/// in-operation occlusion check hang here. Called on the pipeline's loop: keep it cheap or sample.
/// </summary>
public interface IFaceObserver
{
    void Observe(ReadOnlySpan<byte> rgb24, int width, int height, FaceResult face);
}
