namespace Edge.Explain;

/// <summary>The seven expression classes of the emotion model, in the model's output order.</summary>
public static class Expressions
{
    public const int Count = 7;

    public static IReadOnlyList<string> Names { get; } = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

    /// <summary>Index of a class name (case-insensitive); throws with the list of valid names otherwise.</summary>
    public static int IndexOf(string name)
    {
        for (var i = 0; i < Count; i++)
        {
            if (string.Equals(Names[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        throw new ArgumentException($"unknown expression '{name}'; expected one of: {string.Join(", ", Names)}", nameof(name));
    }
}

/// <summary>A face box in source-image pixels (x1, y1) top-left, (x2, y2) bottom-right.</summary>
public readonly record struct FaceBox(float X1, float Y1, float X2, float Y2)
{
    public float Width => X2 - X1;

    public float Height => Y2 - Y1;
}

/// <summary>A point in source-image pixels.</summary>
public readonly record struct FacePoint(float X, float Y);

/// <summary>A relevance map for one class of one face: row-major, <see cref="Width"/> × <see cref="Height"/>.</summary>
public sealed record Heatmap(string TargetClass, int Width, int Height, float[] Relevance);

/// <summary>What the pipeline knows about one face in one frame.</summary>
public sealed class FaceResult
{
    private readonly Stack<float[]> _spareMaps = new();

    public FaceBox Box { get; set; }

    public float DetectorScore { get; set; }

    /// <summary>The detector's mouth-centre keypoint in source-image pixels.</summary>
    public FacePoint Mouth { get; set; }

    /// <summary>Softmax probabilities in <see cref="Expressions.Names"/> order.</summary>
    public float[] Scores { get; } = new float[Expressions.Count];

    /// <summary>Empty unless the face was explained. The relevance arrays belong to the face: <see cref="ClearHeatmaps"/> keeps them for reuse.</summary>
    public List<Heatmap> Heatmaps { get; } = [];

    /// <summary>Empties <see cref="Heatmaps"/> and keeps their relevance arrays for <see cref="RentMap"/>, so a face explained frame after frame reuses its maps.</summary>
    public void ClearHeatmaps()
    {
        foreach (var heatmap in Heatmaps)
        {
            _spareMaps.Push(heatmap.Relevance);
        }

        Heatmaps.Clear();
    }

    /// <summary>A relevance array of <paramref name="length"/> for a new heatmap of this face: one cleared earlier, or a new one.</summary>
    public float[] RentMap(int length)
    {
        while (_spareMaps.TryPop(out var map))
        {
            if (map.Length == length)
            {
                return map;
            }
        }

        return new float[length];
    }
}
