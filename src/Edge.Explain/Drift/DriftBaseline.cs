using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edge.Explain.Drift;

/// <summary>One watched signal's baseline histogram on [0, 1].</summary>
public sealed record SignalHistogram(string Name, long[] Counts);

/// <summary>
/// The distributions captured at commissioning: a histogram of each expression score and of the detector
/// confidence over the faces seen then. Written by <c>edge drift baseline</c>, read at kiosk start.
/// </summary>
public sealed record DriftBaseline(
    int Schema,
    int Bins,
    long Faces,
    string CapturedAt,
    string Source,
    string ModelSha256,
    IReadOnlyList<SignalHistogram> Signals)
{
    public const int CurrentSchema = 1;

    /// <summary>Signal names in observation order: the seven expressions, then the detector confidence.</summary>
    public static IReadOnlyList<string> SignalNames { get; } = [.. Expressions.Names, "detector"];

    public static DriftBaseline Build(IReadOnlyList<float[]> observations, int bins, string capturedAt, string source, string modelSha256)
    {
        ArgumentNullException.ThrowIfNull(observations);
        if (bins is < 2 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(bins), bins, "2–100 bins");
        }

        var signals = SignalNames.Select((n, s) => new SignalHistogram(n, DriftMath.Histogram(observations.Select(o => o[s]), bins))).ToList();
        return new DriftBaseline(CurrentSchema, bins, observations.Count, capturedAt, source, modelSha256, signals);
    }

    /// <summary>The observation vector of a face: its 7 scores then its detector confidence.</summary>
    public static float[] Observe(FaceResult face)
    {
        ArgumentNullException.ThrowIfNull(face);
        var o = new float[Expressions.Count + 1];
        face.Scores.AsSpan().CopyTo(o);
        o[^1] = face.DetectorScore;
        return o;
    }

    public static DriftBaseline Load(string path)
    {
        DriftBaseline? b;
        try
        {
            b = JsonSerializer.Deserialize(File.ReadAllBytes(path), DriftJsonContext.Default.DriftBaseline);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a drift baseline ({e.Message})", e);
        }

        if (b is null || b.Schema != CurrentSchema || b.Signals is null || b.Bins < 2
            || !SignalNames.SequenceEqual(b.Signals.Select(s => s.Name)) || b.Signals.Any(s => s.Counts is null || s.Counts.Length != b.Bins))
        {
            throw new InvalidDataException($"{path}: not a schema-{CurrentSchema} drift baseline with signals {string.Join(",", SignalNames)}");
        }

        return b;
    }

    public void Save(string path)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(this, DriftJsonContext.Default.DriftBaseline);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(DriftBaseline))]
[JsonSerializable(typeof(DriftReport))]
internal sealed partial class DriftJsonContext : JsonSerializerContext;
