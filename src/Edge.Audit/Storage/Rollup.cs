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
    /// <summary>Length of the first stored layout of a histogram: one little-endian int32 per bin.</summary>
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

    /// <summary>Adds a stored histogram (either layout, see <see cref="HistBlob"/>) to this cell's bins.</summary>
    public void MergeHist(ReadOnlySpan<byte> blob) => AddHist(blob, Hist);

    /// <summary>
    /// Adds a stored histogram to <paramref name="bins"/> (<see cref="ExpressionClasses.Count"/> × <see cref="Bins"/> counts).
    /// A blob of exactly <see cref="HistBytes"/> bytes is the first layout (little-endian int32 per bin); any other length is
    /// the compact one. An empty blob has no counts. Anything else that does not decode to exactly that many bins throws.
    /// </summary>
    public static void AddHist(ReadOnlySpan<byte> blob, Span<long> bins)
    {
        if (blob.Length == HistBytes)
        {
            for (var i = 0; i < bins.Length; i++)
            {
                bins[i] += BinaryPrimitives.ReadInt32LittleEndian(blob.Slice(i * sizeof(int)));
            }

            return;
        }

        var bin = 0;
        var pos = 0;
        while (pos < blob.Length)
        {
            var token = ReadVarint(blob, ref pos);
            var n = token >> 1;
            if ((token & 1) == 0)
            {
                if (bin >= bins.Length)
                {
                    throw new InvalidDataException("roll-up histogram has more bins than expected");
                }

                bins[bin++] += (long)n;
            }
            else if (n > (ulong)(bins.Length - bin))
            {
                throw new InvalidDataException("roll-up histogram has more bins than expected");
            }
            else
            {
                bin += (int)n;
            }
        }

        if (blob.Length > 0 && bin != bins.Length)
        {
            throw new InvalidDataException($"roll-up histogram has {bin} bins, expected {bins.Length}");
        }
    }

    /// <summary>
    /// The histogram as stored, compactly: the bins in order as LEB128 varints, an even token 2n for one bin of count n,
    /// an odd token 2n+1 for n empty bins. Most bins of a roll-up are empty or small (scores crowd near 0 for most
    /// expressions), so a kiosk-hour takes ~100–200 bytes instead of the 1,400 of the first layout (int32 per bin), which
    /// is still read. So that the length alone tells the layouts apart, a compact blob that would be exactly
    /// <see cref="HistBytes"/> long gets one more, empty, run.
    /// </summary>
    public byte[] HistBlob()
    {
        Span<byte> buffer = stackalloc byte[(Hist.Length * MaxVarintBytes) + MaxVarintBytes];
        var length = 0;
        for (var i = 0; i < Hist.Length;)
        {
            if (Hist[i] != 0)
            {
                length += WriteVarint(buffer[length..], (ulong)Hist[i] << 1);
                i++;
                continue;
            }

            var run = 1;
            while (i + run < Hist.Length && Hist[i + run] == 0)
            {
                run++;
            }

            length += WriteVarint(buffer[length..], ((ulong)run << 1) | 1);
            i += run;
        }

        if (length == HistBytes)
        {
            length += WriteVarint(buffer[length..], 1);
        }

        return buffer[..length].ToArray();
    }

    private const int MaxVarintBytes = 10;

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        var n = 0;
        while (value >= 0x80)
        {
            destination[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[n++] = (byte)value;
        return n;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> source, ref int pos)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (pos >= source.Length)
            {
                throw new InvalidDataException("roll-up histogram ends inside a number");
            }

            var b = source[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("roll-up histogram has a number longer than 64 bits");
    }

    /// <summary>Back to an empty cell, for reuse.</summary>
    public void Clear()
    {
        Events = 0;
        Flagged = 0;
        Array.Clear(Sums);
        Array.Clear(Hist);
    }

    public double Mean(int expression) => Events == 0 ? 0 : Sums[expression] / Events;

    /// <summary><see cref="Percentile"/> for several ascending <paramref name="quantiles"/> in one pass over the bins.</summary>
    public void Percentiles(int expression, ReadOnlySpan<double> quantiles, Span<double> result)
    {
        if (Events == 0)
        {
            result[..quantiles.Length].Clear();
            return;
        }

        var k = 0;
        double cumulative = 0;
        var offset = expression * Bins;
        for (var b = 0; b < Bins && k < quantiles.Length; b++)
        {
            var n = Hist[offset + b];
            while (k < quantiles.Length && n > 0 && cumulative + n >= quantiles[k] * Events)
            {
                var within = ((quantiles[k] * Events) - cumulative) / n;
                result[k++] = (b + within) / Bins;
            }

            cumulative += n;
        }

        for (; k < quantiles.Length; k++)
        {
            result[k] = 1.0;
        }
    }

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

/// <summary>Which keys a roll-up level keeps: every kiosk, every site (its kiosks summed), or the whole fleet.</summary>
public enum RollupScope
{
    Kiosk,
    Site,
    Fleet,
}

/// <summary>
/// One roll-up table: a scope (kiosk, site or fleet) at a bucket size (hour or UTC day). The coarser levels are the same
/// cells summed, kept so that a summary reads one row per group and bucket it returns, not one per kiosk behind it.
/// Keys a level does not keep are "" in <see cref="RollupKey"/> and <see cref="RollupRow"/>.
/// </summary>
public sealed record RollupLevel(string Table, RollupScope Scope, bool Daily)
{
    public static readonly RollupLevel KioskHourly = new("hourly_rollup", RollupScope.Kiosk, Daily: false);
    public static readonly RollupLevel KioskDaily = new("daily_rollup", RollupScope.Kiosk, Daily: true);
    public static readonly RollupLevel SiteHourly = new("site_hourly_rollup", RollupScope.Site, Daily: false);
    public static readonly RollupLevel SiteDaily = new("site_daily_rollup", RollupScope.Site, Daily: true);
    public static readonly RollupLevel FleetHourly = new("fleet_hourly_rollup", RollupScope.Fleet, Daily: false);
    public static readonly RollupLevel FleetDaily = new("fleet_daily_rollup", RollupScope.Fleet, Daily: true);

    /// <summary>Every level, in the order writers lock them (always the same order, so concurrent writers cannot deadlock).</summary>
    public static readonly IReadOnlyList<RollupLevel> All = [KioskHourly, KioskDaily, SiteHourly, SiteDaily, FleetHourly, FleetDaily];

    public static RollupLevel Of(RollupScope scope, bool daily) => All.Single(l => l.Scope == scope && l.Daily == daily);

    public string Bucket => Daily ? "day_ms" : "hour_ms";

    public bool HasSite => Scope != RollupScope.Fleet;

    public bool HasKiosk => Scope == RollupScope.Kiosk;

    /// <summary>The key columns, bucket last: the table's primary key.</summary>
    public string KeyColumns => (HasKiosk ? "site_id, kiosk_id, " : HasSite ? "site_id, " : "") + Bucket;

    /// <summary>A kiosk-hour key moved to this level: dropped keys become "", the hour becomes its day on daily levels.</summary>
    public RollupKey Project(RollupKey kioskHour) => new(
        HasSite ? kioskHour.Site : "", HasKiosk ? kioskHour.Kiosk : "", Daily ? RollupKey.DayOf(kioskHour.HourMs) : kioskHour.HourMs);
}

/// <summary>Accumulates the cells touched by one batch; the store merges them into the tables.</summary>
public sealed class RollupAccumulator
{
    /// <summary>The kiosk-hour cells; every other level is these summed (<see cref="For"/>).</summary>
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

    /// <summary>The cells at <paramref name="level"/>: the kiosk-hour cells summed per projected key, sorted by key.</summary>
    public SortedDictionary<RollupKey, RollupCell> For(RollupLevel level) => Project(Cells, level);

    /// <summary>Sums kiosk-hour cells per key of <paramref name="level"/>.</summary>
    public static SortedDictionary<RollupKey, RollupCell> Project(IEnumerable<KeyValuePair<RollupKey, RollupCell>> kioskHours, RollupLevel level)
    {
        var result = new SortedDictionary<RollupKey, RollupCell>();
        foreach (var (key, cell) in kioskHours)
        {
            var projected = level.Project(key);
            if (!result.TryGetValue(projected, out var sum))
            {
                sum = new RollupCell();
                result[projected] = sum;
            }

            sum.Merge(cell);
        }

        return result;
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
