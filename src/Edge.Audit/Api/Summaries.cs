using Edge.Audit.Ingest;
using Edge.Audit.Storage;

namespace Edge.Audit.Api;

/// <summary>Summaries from the roll-ups: counts, flag rate, mean and p50/p90/p99 per expression, grouped by any of site, kiosk, hour.</summary>
public static class Summaries
{
    private static readonly double[] Quantiles = [0.5, 0.9, 0.99];

    public static async Task<SummaryResponseDto> ComputeAsync(IAuditStore store, SummaryQuery query, IReadOnlyCollection<string> groupBy, CancellationToken cancellationToken)
    {
        bool bySite = groupBy.Contains("site") || groupBy.Contains("kiosk"), byKiosk = groupBy.Contains("kiosk"), byHour = groupBy.Contains("hour");

        // The coarsest roll-up that still has every key the query groups or filters by: one row per group and bucket.
        var scope = byKiosk || query.Kiosk is not null ? RollupScope.Kiosk : bySite || query.Site is not null ? RollupScope.Site : RollupScope.Fleet;
        var rows = await store.ReadRollupsAsync(query, hourly: byHour, scope, cancellationToken);

        // Rows sorted into group order (site, kiosk, hour), so each group's rows are adjacent and are summed into one
        // reused cell: no histogram is allocated per group, which matters when every kiosk-hour is its own group.
        var groupOrder = new GroupOrder(rows, bySite, byKiosk, byHour);
        var order = new int[rows.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, groupOrder);
        var groups = new List<SummaryDto>(rows.Count);
        var cell = new RollupCell();
        Span<double> percentiles = stackalloc double[Quantiles.Length];
        for (var first = 0; first < order.Length;)
        {
            cell.Clear();
            var next = first;
            for (; next < order.Length && groupOrder.Compare(order[next], order[first]) == 0; next++)
            {
                rows[order[next]].AddTo(cell);
            }

            var stats = new ExpressionStatsDto[ExpressionClasses.Count];
            for (var x = 0; x < stats.Length; x++)
            {
                cell.Percentiles(x, Quantiles, percentiles);
                stats[x] = new ExpressionStatsDto(cell.Mean(x), percentiles[0], percentiles[1], percentiles[2]);
            }

            var row = rows[order[first]];
            groups.Add(new SummaryDto(
                bySite ? row.SiteId : null, byKiosk ? row.KioskId : null, byHour ? DateTimeOffset.FromUnixTimeMilliseconds(row.HourMs) : null,
                cell.Events, cell.Flagged, cell.Events == 0 ? 0 : (double)cell.Flagged / cell.Events, new ExpressionStatsMap(stats)));
            first = next;
        }

        return new SummaryResponseDto(groups, rows.Count);
    }

    /// <summary>Orders row indices by the keys the query groups by, ordinally, site first (rows comparing equal form one group).</summary>
    private sealed class GroupOrder(IReadOnlyList<RollupRow> rows, bool bySite, bool byKiosk, bool byHour) : IComparer<int>
    {
        public int Compare(int x, int y)
        {
            RollupRow a = rows[x], b = rows[y];
            var c = bySite ? string.CompareOrdinal(a.SiteId, b.SiteId) : 0;
            if (c == 0 && byKiosk)
            {
                c = string.CompareOrdinal(a.KioskId, b.KioskId);
            }

            return c == 0 && byHour ? a.HourMs.CompareTo(b.HourMs) : c;
        }
    }

    /// <summary>
    /// The seven expressions' stats by name, in <see cref="ExpressionClasses.Names"/> order: one array instead of a hash
    /// table per group (a summary by kiosk and hour has one group per kiosk-hour).
    /// </summary>
    private sealed class ExpressionStatsMap(ExpressionStatsDto[] stats) : IReadOnlyDictionary<string, ExpressionStatsDto>
    {
        public ExpressionStatsDto this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

        public IEnumerable<string> Keys => ExpressionClasses.Names;

        public IEnumerable<ExpressionStatsDto> Values => stats;

        public int Count => stats.Length;

        public bool ContainsKey(string key) => ExpressionClasses.IndexOf(key) >= 0;

        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out ExpressionStatsDto value)
        {
            var i = ExpressionClasses.IndexOf(key);
            value = i >= 0 ? stats[i] : null;
            return i >= 0;
        }

        public IEnumerator<KeyValuePair<string, ExpressionStatsDto>> GetEnumerator()
        {
            for (var i = 0; i < stats.Length; i++)
            {
                yield return new KeyValuePair<string, ExpressionStatsDto>(ExpressionClasses.Names[i], stats[i]);
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
