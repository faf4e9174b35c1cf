using Edge.Audit.Ingest;
using Edge.Audit.Storage;

namespace Edge.Audit.Api;

/// <summary>Summaries from the roll-ups: counts, flag rate, mean and p50/p90/p99 per expression, grouped by any of site, kiosk, hour.</summary>
public static class Summaries
{
    public static async Task<SummaryResponseDto> ComputeAsync(IAuditStore store, SummaryQuery query, IReadOnlyCollection<string> groupBy, CancellationToken cancellationToken)
    {
        bool bySite = groupBy.Contains("site") || groupBy.Contains("kiosk"), byKiosk = groupBy.Contains("kiosk"), byHour = groupBy.Contains("hour");

        // The coarsest roll-up that still has every key the query groups or filters by: one row per group and bucket.
        var scope = byKiosk || query.Kiosk is not null ? RollupScope.Kiosk : bySite || query.Site is not null ? RollupScope.Site : RollupScope.Fleet;
        var rows = await store.ReadRollupsAsync(query, hourly: byHour, scope, cancellationToken);
        var cells = new Dictionary<(string?, string?, long?), RollupCell>();
        foreach (var row in rows)
        {
            var key = (bySite ? row.SiteId : null, byKiosk ? row.KioskId : null, byHour ? row.HourMs : (long?)null);
            if (!cells.TryGetValue(key, out var cell))
            {
                cell = new RollupCell();
                cells[key] = cell;
            }

            row.AddTo(cell);
        }

        var result = cells
            .OrderBy(c => c.Key.Item1, StringComparer.Ordinal).ThenBy(c => c.Key.Item2, StringComparer.Ordinal).ThenBy(c => c.Key.Item3)
            .Select(c => new SummaryDto(
                c.Key.Item1, c.Key.Item2, c.Key.Item3 is { } h ? DateTimeOffset.FromUnixTimeMilliseconds(h) : null,
                c.Value.Events, c.Value.Flagged, c.Value.Events == 0 ? 0 : (double)c.Value.Flagged / c.Value.Events,
                Enumerable.Range(0, ExpressionClasses.Count).ToDictionary(i => ExpressionClasses.Names[i], i => new ExpressionStatsDto(
                    c.Value.Mean(i), c.Value.Percentile(i, 0.5), c.Value.Percentile(i, 0.9), c.Value.Percentile(i, 0.99)))))
            .ToList();
        return new SummaryResponseDto(result, rows.Count);
    }
}
