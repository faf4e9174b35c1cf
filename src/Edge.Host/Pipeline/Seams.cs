using Edge.Explain;
using Edge.Sync.Contract;

namespace Edge.Host.Pipeline;

// The narrow seams the pipeline calls. Production implementations adapt the real stages (Edge.Explain's
// FaceAnalyzer and explainer, Edge.Sync's outbox); tests use doubles only for stages not built yet.

/// <summary>Finds faces in an rgb24 frame and scores each one's expression (detector + scorer).</summary>
public interface IFaceAnalyzer
{
    /// <summary>Model id as it goes into events (e.g. "emotion-int8@3.0.4").</summary>
    string ModelId { get; }

    /// <summary>SHA-256 (hex) of the scoring model that runs.</summary>
    string ModelSha256 { get; }

    /// <summary>
    /// Clears and fills <paramref name="results"/>; returns the number of faces. With <paramref name="score"/> false the
    /// expression scores may be left unset (the pipeline then has the explainer score each face).
    /// </summary>
    int Analyze(ReadOnlySpan<byte> rgb24, int width, int height, List<FaceResult> results, bool score = true);
}

/// <summary>Adds a relevance heatmap for one class of one face, and encodes heatmaps for the wire.</summary>
public interface IFaceExplainer
{
    /// <summary>The target class that means "this face's top class, as the explainer's own run scores it".</summary>
    const int TopClass = -1;

    /// <summary>
    /// Adds the heatmap of <paramref name="targetClass"/> (or of the top class, <see cref="TopClass"/>) to the face;
    /// with <paramref name="writeScores"/> also sets the face's expression scores from the same run (the explainer
    /// runs the scoring model's forward pass, so a face it explains needs no separate scoring run).
    /// </summary>
    void Explain(ReadOnlySpan<byte> rgb24, int width, int height, FaceResult face, int targetClass, bool writeScores = false);

    /// <summary>The wire form of a heatmap (codec version, scale, bytes).</summary>
    Edge.Sync.Contract.Heatmap Encode(Edge.Explain.Heatmap heatmap);
}

/// <summary>Takes events for delivery (the outbox); returns once the event is durably queued.</summary>
public interface IFaceEventSink
{
    ValueTask EnqueueAsync(FaceEvent faceEvent, CancellationToken cancellationToken);

    /// <summary>Events accepted but not yet delivered (outbox depth), or -1 when unknown.</summary>
    long Pending { get; }
}
