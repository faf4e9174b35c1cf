using System.Text.Json;

namespace Edge.Explain.Drift;

/// <summary>The verdict of one signal or of the whole kiosk.</summary>
public enum DriftLevel
{
    /// <summary>Too few recent faces for a verdict.</summary>
    Insufficient,
    Ok,
    Warn,
    Alert,
}

/// <summary>One signal's comparison of the recent window with the baseline.</summary>
public sealed record SignalDrift(string Name, double Psi, double Kl, DriftLevel Level);

/// <summary>A drift status: the overall level (the worst signal's), each signal, and the occlusion check's disagreement share.</summary>
public sealed record DriftReport(
    DateTimeOffset Time,
    int WindowFaces,
    long FacesSeen,
    DriftLevel Level,
    IReadOnlyList<SignalDrift> Signals,
    int OcclusionChecks,
    int OcclusionDisagreements,
    long OcclusionChecksTotal)
{
    /// <summary>Share of recent occlusion checks where the heatmap and the occlusion disagreed; NaN when none ran.</summary>
    public double OcclusionDisagreementShare => OcclusionChecks == 0 ? double.NaN : (double)OcclusionDisagreements / OcclusionChecks;

    public string ToJson() => JsonSerializer.Serialize(this, DriftJsonContext.Default.DriftReport);
}

/// <summary>
/// The kiosk's drift watch: keeps the last <see cref="DriftOptions.Window"/> faces' observations (7 scores +
/// detector confidence) in a ring and compares each signal's histogram with the commissioning baseline (PSI and KL).
/// Thread-safe: the pipeline observes, a publisher reads reports.
/// </summary>
public sealed class DriftMonitor
{
    private readonly DriftBaseline _baseline;
    private readonly DriftOptions _options;
    private readonly TimeProvider _time;
    private readonly float[][] _ring;
    private readonly bool[] _occlusion;
    private readonly Lock _gate = new();
    private int _next;
    private int _count;
    private long _seen;
    private int _occNext;
    private int _occCount;
    private long _occTotal;

    public DriftMonitor(DriftBaseline baseline, DriftOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(options);
        (_baseline, _options, _time) = (baseline, options, time);
        _ring = new float[options.Window][];
        for (var i = 0; i < _ring.Length; i++)
        {
            _ring[i] = new float[DriftBaseline.SignalNames.Count];
        }

        _occlusion = new bool[options.OcclusionWindow];
    }

    public DriftBaseline Baseline => _baseline;

    public void Observe(FaceResult face)
    {
        ArgumentNullException.ThrowIfNull(face);
        lock (_gate)
        {
            var slot = _ring[_next];
            face.Scores.AsSpan().CopyTo(slot);
            slot[^1] = face.DetectorScore;
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
            _seen++;
        }
    }

    /// <summary>Records one occlusion check: true when the heatmap's top patch lowered the score less than a random patch.</summary>
    public void RecordOcclusion(bool disagreed)
    {
        lock (_gate)
        {
            _occlusion[_occNext] = disagreed;
            _occNext = (_occNext + 1) % _occlusion.Length;
            _occCount = Math.Min(_occCount + 1, _occlusion.Length);
            _occTotal++;
        }
    }

    public DriftReport Report()
    {
        var bins = _baseline.Bins;
        var names = DriftBaseline.SignalNames;
        var hist = new long[names.Count][];
        int count, occ, occBad;
        long seen, occTotal;
        lock (_gate)
        {
            for (var s = 0; s < names.Count; s++)
            {
                hist[s] = new long[bins];
            }

            for (var i = 0; i < _count; i++)
            {
                var o = _ring[i];
                for (var s = 0; s < names.Count; s++)
                {
                    hist[s][DriftMath.Bin(o[s], bins)]++;
                }
            }

            (count, seen, occ, occTotal) = (_count, _seen, _occCount, _occTotal);
            occBad = 0;
            for (var i = 0; i < _occCount; i++)
            {
                occBad += _occlusion[i] ? 1 : 0;
            }
        }

        var enough = count >= _options.MinSamples;
        var signals = new List<SignalDrift>(names.Count);
        for (var s = 0; s < names.Count; s++)
        {
            var psi = DriftMath.Psi(_baseline.Signals[s].Counts, hist[s]);
            var kl = DriftMath.Kl(_baseline.Signals[s].Counts, hist[s]);
            var level = !enough ? DriftLevel.Insufficient : psi >= _options.AlertPsi ? DriftLevel.Alert : psi >= _options.WarnPsi ? DriftLevel.Warn : DriftLevel.Ok;
            signals.Add(new SignalDrift(names[s], psi, kl, level));
        }

        var overall = enough ? signals.Max(x => x.Level) : DriftLevel.Insufficient;
        return new DriftReport(_time.GetUtcNow(), count, seen, overall, signals, occ, occBad, occTotal);
    }
}
