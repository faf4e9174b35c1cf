using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edge.Explain.Bias;

/// <summary>One scored, labelled image: the model's 7 probabilities, the true class, and the user's group values.</summary>
public sealed record BiasSample(string Image, float[] Scores, int Truth, IReadOnlyDictionary<string, string> Groups);

/// <summary>A statistic's value and its gap to the overall figure with a bootstrap percentile interval.</summary>
public sealed record Gap(double Value, double GapToOverall, double GapLow, double GapHigh)
{
    /// <summary>The interval excludes zero: the group differs from the whole set beyond resampling noise.</summary>
    public bool Significant => GapLow > 0 || GapHigh < 0;
}

public sealed record GroupStats(string Column, string Value, int Count, Gap Accuracy, Gap HappyMean, Gap CalibrationError, bool TooFew, double[] BinConfidence, double[] BinAccuracy, int[] BinCount);

public sealed record OverallStats(int Count, double Accuracy, double HappyMean, double CalibrationError);

public sealed record BiasReport(
    OverallStats Overall,
    IReadOnlyList<GroupStats> Groups,
    IReadOnlyList<string> Warnings,
    int BootstrapSamples,
    int Seed,
    int MinGroupSize,
    int CalibrationBins,
    string Model)
{
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, BiasJsonContext.Default.BiasReport);
}

/// <summary>
/// Per-group accuracy, mean happy score and expected calibration error (ECE: top-class confidence against
/// correctness in equal-width confidence bins, weighted by bin size), each with its gap to the overall figure and a
/// percentile bootstrap interval for that gap: the whole set is resampled with replacement (seeded, so the same
/// inputs give the same report), the group's rows are the resampled rows that belong to it. Groups are whatever
/// columns the user labelled; nothing here looks at a face.
/// </summary>
public static class BiasAnalysis
{
    public const int HappyIndex = 3;

    public static BiasReport Compute(IReadOnlyList<BiasSample> samples, IReadOnlyList<string> groupColumns, string model, int bootstrap = 1000, int seed = 1, int minGroupSize = 30, int bins = 10)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(groupColumns);
        if (samples.Count == 0)
        {
            throw new ArgumentException("no scored samples", nameof(samples));
        }

        if (bootstrap < 100 || bins < 2 || minGroupSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(bootstrap), "bootstrap ≥ 100, bins ≥ 2, minimum group size ≥ 1");
        }

        var n = samples.Count;
        var correct = samples.Select(s => ArgMax(s.Scores) == s.Truth).ToArray();
        var conf = samples.Select(s => (double)s.Scores.Max()).ToArray();
        var happy = samples.Select(s => (double)s.Scores[HappyIndex]).ToArray();
        var all = Enumerable.Range(0, n).ToArray();
        var overall = Stats(all, correct, conf, happy, bins);

        var groups = new List<(string Column, string Value, int[] Members)>();
        foreach (var c in groupColumns)
        {
            foreach (var v in samples.Select(s => s.Groups.TryGetValue(c, out var x) ? x : string.Empty).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                groups.Add((c, v, [.. all.Where(i => (samples[i].Groups.TryGetValue(c, out var x) ? x : string.Empty) == v)]));
            }
        }

        // bootstrap: gaps of each group for each resample
        var gaps = groups.Select(_ => (Acc: new List<double>(bootstrap), Happy: new List<double>(bootstrap), Ece: new List<double>(bootstrap))).ToArray();
        var rng = new Random(seed);
        var draw = new int[n];
        var counts = new int[n];
        for (var b = 0; b < bootstrap; b++)
        {
            Array.Clear(counts);
            for (var i = 0; i < n; i++)
            {
                draw[i] = rng.Next(n);
                counts[draw[i]]++;
            }

            var o = Stats(draw, correct, conf, happy, bins);
            for (var g = 0; g < groups.Count; g++)
            {
                var rows = new List<int>();
                foreach (var i in groups[g].Members)
                {
                    for (var k = 0; k < counts[i]; k++)
                    {
                        rows.Add(i);
                    }
                }

                if (rows.Count == 0)
                {
                    continue;
                }

                var s = Stats([.. rows], correct, conf, happy, bins);
                gaps[g].Acc.Add(s.Accuracy - o.Accuracy);
                gaps[g].Happy.Add(s.Happy - o.Happy);
                gaps[g].Ece.Add(s.Ece - o.Ece);
            }
        }

        var warnings = new List<string>();
        var result = new List<GroupStats>(groups.Count);
        for (var g = 0; g < groups.Count; g++)
        {
            var (column, value, members) = groups[g];
            var s = Stats(members, correct, conf, happy, bins);
            var tooFew = members.Length < minGroupSize;
            if (tooFew)
            {
                warnings.Add($"{column}={Display(value)}: only {members.Length} image(s), fewer than {minGroupSize}; too few for a conclusion");
            }

            result.Add(new GroupStats(
                column,
                value,
                members.Length,
                MakeGap(s.Accuracy, overall.Accuracy, gaps[g].Acc),
                MakeGap(s.Happy, overall.Happy, gaps[g].Happy),
                MakeGap(s.Ece, overall.Ece, gaps[g].Ece),
                tooFew,
                s.BinConf,
                s.BinAcc,
                s.BinCount));
        }

        return new BiasReport(new OverallStats(n, overall.Accuracy, overall.Happy, overall.Ece), result, warnings, bootstrap, seed, minGroupSize, bins, model);
    }

    public static string Display(string value) => value.Length == 0 ? "(blank)" : value;

    private static Gap MakeGap(double value, double overall, List<double> boot)
    {
        if (boot.Count == 0)
        {
            return new Gap(value, value - overall, double.NaN, double.NaN);
        }

        boot.Sort();
        return new Gap(value, value - overall, Percentile(boot, 0.025), Percentile(boot, 0.975));
    }

    private static double Percentile(List<double> sorted, double p)
    {
        var x = p * (sorted.Count - 1);
        var lo = (int)Math.Floor(x);
        var hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + ((x - lo) * (sorted[hi] - sorted[lo]));
    }

    private sealed record Summary(double Accuracy, double Happy, double Ece, double[] BinConf, double[] BinAcc, int[] BinCount);

    private static Summary Stats(int[] rows, bool[] correct, double[] conf, double[] happy, int bins)
    {
        var bc = new double[bins];
        var ba = new double[bins];
        var bn = new int[bins];
        double acc = 0, h = 0;
        foreach (var i in rows)
        {
            acc += correct[i] ? 1 : 0;
            h += happy[i];
            var b = Math.Min(bins - 1, (int)(conf[i] * bins));
            bc[b] += conf[i];
            ba[b] += correct[i] ? 1 : 0;
            bn[b]++;
        }

        var n = rows.Length;
        double ece = 0;
        for (var b = 0; b < bins; b++)
        {
            if (bn[b] > 0)
            {
                ece += bn[b] / (double)n * Math.Abs((ba[b] / bn[b]) - (bc[b] / bn[b]));
                bc[b] /= bn[b];
                ba[b] /= bn[b];
            }
        }

        return new Summary(acc / n, h / n, ece, bc, ba, bn);
    }

    private static int ArgMax(float[] v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++)
        {
            if (v[i] > v[best])
            {
                best = i;
            }
        }

        return best;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(BiasReport))]
internal sealed partial class BiasJsonContext : JsonSerializerContext;
