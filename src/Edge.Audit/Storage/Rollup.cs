using System.Buffers.Binary;
using Edge.Audit.Ingest;

namespace Edge.Audit.Storage;

/// <summary>
/// One (site, kiosk, hour) cell of the hourly roll-up maintained at ingest: counts, exact sums per expression and a
/// 50-bin histogram per expression (bin width 0.02), from which percentiles are interpolated. Summaries read only
/// roll-ups, so their cost grows with kiosk-hours, not with events.
/// </summary>
public sealed class RollupCell
{
    public const int Bins = 50;
    public const int HistBytes = ExpressionClasses.Count * Bins * sizeof(int);

    public long Events { get; set; }
    public long Flagged { get; set; }
    public double[] Sums { get; } = new double[ExpressionClasses.Count];
    public long[] Hist { get; } = new long[ExpressionClasses.Count * Bins];

    public static int BinOf(double score) => Math.Clamp((int)(score * Bins), 0, Bins - 1);

    public void Add(ReadOnlySpan<float> scores, bool flagged)
    {
        Events++;
        if (flagged)
        {
            Flagged++;
        }

        for (var i = 0; i < ExpressionClasses.Count; i++)
        {
            Sums[i] += scores[i];
            Hist[(i * Bins) + BinOf(scores[i])]++;
        }
    }

    public void Merge(RollupCell other)
    {
        Events += other.Events;
        Flagged += other.Flagged;
        for (var i = 0; i < Sums.Length; i++)
        {
            Sums[i] += other.Sums[i];
        }

        for (var i = 0; i < Hist.Length; i++)
        {
            Hist[i] += other.Hist[i];
        }
    }

    public void MergeHist(ReadOnlySpan<byte> blob)
    {
        if (blob.Length != HistBytes)
        {
            return;
        }

        for (var i = 0; i < Hist.Length; i++)
        {
            Hist[i] += BinaryPrimitives.ReadInt32LittleEndian(blob.Slice(i * sizeof(int)));
        }
    }

    public byte[] HistBlob()
    {
        var blob = new byte[HistBytes];
        for (var i = 0; i < Hist.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(i * sizeof(int)), (int)Math.Min(Hist[i], int.MaxValue));
        }

        return blob;
    }

    public double Mean(int expression) => Events == 0 ? 0 : Sums[expression] / Events;

    /// <summary>Percentile q in [0,1] of one expression, linear inside the bin (resolution 0.02).</summary>
    public double Percentile(int expression, double q)
    {
        if (Events == 0)
        {
            return 0;
        }

        var target = q * Events;
        double cumulative = 0;
        var offset = expression * Bins;
        for (var b = 0; b < Bins; b++)
        {
            var n = Hist[offset + b];
            if (n > 0 && cumulative + n >= target)
            {
                var within = (target - cumulative) / n;
                return (b + within) / Bins;
            }

            cumulative += n;
        }

        return 1.0;
    }
}

public readonly record struct RollupKey(string Site, string Kiosk, long HourMs) : IComparable<RollupKey>
{
    public const long HourMsLength = 3_600_000;
    public const long DayMsLength = 86_400_000;

    public static long HourOf(long ms) => ms - (((ms % HourMsLength) + HourMsLength) % HourMsLength);

    public static long DayOf(long ms) => ms - (((ms % DayMsLength) + DayMsLength) % DayMsLength);

    /// <summary>The first UTC day start at or after <paramref name="ms"/>.</summary>
    public static long DayCeiling(long ms) => DayOf(ms) == ms ? ms : DayOf(ms) + DayMsLength;

    public int CompareTo(RollupKey other)
    {
        var c = string.CompareOrdinal(Site, other.Site);
        if (c != 0)
        {
            return c;
        }

        c = string.CompareOrdinal(Kiosk, other.Kiosk);
        return c != 0 ? c : HourMs.CompareTo(other.HourMs);
    }
}

/// <summary>Accumulates the cells touched by one batch; the store merges them into the table.</summary>
public sealed class RollupAccumulator
{
    public SortedDictionary<RollupKey, RollupCell> Cells { get; } = [];

    public void Add(string site, string kiosk, long capturedAtMs, ReadOnlySpan<float> scores, bool flagged)
    {
        var key = new RollupKey(site, kiosk, RollupKey.HourOf(capturedAtMs));
        if (!Cells.TryGetValue(key, out var cell))
        {
            cell = new RollupCell();
            Cells[key] = cell;
        }

        cell.Add(scores, flagged);
    }

    /// <summary>The same cells summed per UTC day.</summary>
    public SortedDictionary<RollupKey, RollupCell> Daily()
    {
        var days = new SortedDictionary<RollupKey, RollupCell>();
        foreach (var (key, cell) in Cells)
        {
            var day = key with { HourMs = RollupKey.DayOf(key.HourMs) };
            if (!days.TryGetValue(day, out var d))
            {
                d = new RollupCell();
                days[day] = d;
            }

            d.Merge(cell);
        }

        return days;
    }
}

/// <summary>A roll-up row as read back for summaries.</summary>
public sealed class RollupRow
{
    public string SiteId { get; set; } = "";
    public string KioskId { get; set; } = "";
    public long HourMs { get; set; }
    public long Events { get; set; }
    public long Flagged { get; set; }
    public double SumAngry { get; set; }
    public double SumDisgust { get; set; }
    public double SumFear { get; set; }
    public double SumHappy { get; set; }
    public double SumSad { get; set; }
    public double SumSurprise { get; set; }
    public double SumNeutral { get; set; }
    public byte[] Hist { get; set; } = [];

    public void AddTo(RollupCell cell)
    {
        cell.Events += Events;
        cell.Flagged += Flagged;
        cell.Sums[0] += SumAngry;
        cell.Sums[1] += SumDisgust;
        cell.Sums[2] += SumFear;
        cell.Sums[3] += SumHappy;
        cell.Sums[4] += SumSad;
        cell.Sums[5] += SumSurprise;
        cell.Sums[6] += SumNeutral;
        cell.MergeHist(Hist);
    }
}
