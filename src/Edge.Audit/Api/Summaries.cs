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
        var keys = new GroupKey[rows.Count];
        var order = new int[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            keys[i] = new GroupKey(bySite ? row.SiteId : null, byKiosk ? row.KioskId : null, byHour ? row.HourMs : null);
            order[i] = i;
        }

        Array.Sort(keys, order);
        var groups = new List<SummaryDto>();
        var cell = new RollupCell();
        Span<double> percentiles = stackalloc double[Quantiles.Length];
        for (var first = 0; first < keys.Length;)
        {
            cell.Clear();
            var next = first;
            for (; next < keys.Length && keys[next].CompareTo(keys[first]) == 0; next++)
            {
                rows[order[next]].AddTo(cell);
            }

            var expressions = new Dictionary<string, ExpressionStatsDto>(ExpressionClasses.Count);
            for (var x = 0; x < ExpressionClasses.Count; x++)
            {
                cell.Percentiles(x, Quantiles, percentiles);
                expressions[ExpressionClasses.Names[x]] = new ExpressionStatsDto(cell.Mean(x), percentiles[0], percentiles[1], percentiles[2]);
            }

            var key = keys[first];
            groups.Add(new SummaryDto(
                key.Site, key.Kiosk, key.Hour is { } h ? DateTimeOffset.FromUnixTimeMilliseconds(h) : null,
                cell.Events, cell.Flagged, cell.Events == 0 ? 0 : (double)cell.Flagged / cell.Events, expressions));
            first = next;
        }

        return new SummaryResponseDto(groups, rows.Count);
    }

    /// <summary>A group: the keys the query groups by (null for the others), ordered ordinally, site first.</summary>
    private readonly record struct GroupKey(string? Site, string? Kiosk, long? Hour) : IComparable<GroupKey>
    {
        public int CompareTo(GroupKey other)
        {
            var c = string.CompareOrdinal(Site, other.Site);
            if (c != 0)
            {
                return c;
            }

            c = string.CompareOrdinal(Kiosk, other.Kiosk);
            return c != 0 ? c : Nullable.Compare(Hour, other.Hour);
        }
    }
}
