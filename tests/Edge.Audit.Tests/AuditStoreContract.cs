using System.Data.Common;
using Edge.Audit.Api;
using Edge.Audit.Ingest;
using Edge.Audit.Storage;
using Edge.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Edge.Audit.Tests;

/// <summary>One suite, two databases: every test here runs against SQLite and against PostgreSQL.</summary>
public abstract class AuditStoreContract : IAsyncLifetime
{
    private readonly StorageProvider _provider;
    private readonly ManualTimeProvider _time = new(TestEvents.T0.AddDays(1));
    private IAuditStore _store = null!;
    private Func<Task> _cleanup = () => Task.CompletedTask;

    protected AuditStoreContract(StorageProvider provider) => _provider = provider;

    public async Task InitializeAsync() => (_store, _cleanup) = await Stores.CreateAsync(_provider, _time);

    public Task DisposeAsync() => _cleanup();

    private static CancellationToken Ct => CancellationToken.None;

    [StoreFact]
    public async Task WriteEventsAsync_NewEvent_DetailReadsBackScoresHeatmapAndCrop()
    {
        var wire = TestEvents.Event(happy: 0.25f, flagged: true, heatmap: true, crop: true);

        var result = await _store.WriteEventsAsync([TestEvents.Incoming(wire)], Ct);
        var detail = await _store.GetEventAsync(wire.EventId, Ct);

        Assert.Equal(new WriteResult(1, 0), result);
        Assert.NotNull(detail);
        Assert.Equal(0.25, detail.Event.Happy, 5);
        Assert.True(detail.Event.Flagged);
        Assert.Equal("low happy", detail.Event.FlagReason);
        Assert.Equal("open", detail.Event.ReviewState);
        Assert.Equal("neutral", detail.Event.TopClass); // 0.375 > 0.25
        var h = Assert.Single(detail.Heatmaps);
        Assert.Equal(wire.Heatmaps[0].Data.ToByteArray(), h.Data);
        Assert.Equal(64, h.Width);
        Assert.Equal(wire.FaceCropPng.ToByteArray(), detail.FaceCropPng);
    }

    [StoreFact]
    public async Task WriteEventsAsync_SameEventIdTwice_StoredOnceAndCountedAsDuplicate()
    {
        var wire = TestEvents.Event();
        var first = await _store.WriteEventsAsync([TestEvents.Incoming(wire), TestEvents.Incoming(wire)], Ct);
        wire.Scores.Happy = 0.01f; // a replay with other content must not overwrite
        var second = await _store.WriteEventsAsync([TestEvents.Incoming(wire)], Ct);

        Assert.Equal(new WriteResult(1, 1), first);
        Assert.Equal(new WriteResult(0, 1), second);
        Assert.Equal(1, await _store.CountEventsAsync(Ct));
        Assert.Equal(0.7, (await _store.GetEventAsync(wire.EventId, Ct))!.Event.Happy, 5);
        var rollup = Assert.Single(await _store.ReadRollupsAsync(new SummaryQuery(null, null, null, null), hourly: true, Ct));
        Assert.Equal(1, rollup.Events);
    }

    [StoreFact]
    public async Task WriteEventsAsync_ManyBatches_RollupEqualsRebuildFromEvents()
    {
        var rng = new Random(7);
        for (var b = 0; b < 5; b++)
        {
            var batch = Enumerable.Range(0, 40).Select(i => TestEvents.Incoming(TestEvents.Event(
                kiosk: "kiosk-" + rng.Next(3), at: TestEvents.T0.AddMinutes(rng.Next(180)), happy: (float)rng.NextDouble(), flagged: rng.Next(4) == 0))).ToList();
            await _store.WriteEventsAsync(batch, Ct);
        }

        var incremental = await SnapshotAllLevelsAsync();
        await _store.RebuildRollupsAsync(Ct);
        var rebuilt = await SnapshotAllLevelsAsync();

        var kioskHours = incremental[(RollupScope.Kiosk, true)];
        Assert.Equal(200, kioskHours.Sum(r => r.Events));
        Assert.Equal(9, kioskHours.Count); // 3 kiosks x 3 hours
        Assert.Equal(3, incremental[(RollupScope.Fleet, true)].Count); // 3 hours
        foreach (var (level, rows) in incremental)
        {
            Assert.Equal(200, rows.Sum(r => r.Events));
            AssertSameRollups(rebuilt[level], rows);
        }
    }

    [StoreFact]
    public async Task MigrateAsync_StoreFromBeforeSiteAndFleetLevels_FillsThemFromHourly()
    {
        var rng = new Random(5);
        await _store.WriteEventsAsync(Enumerable.Range(0, 120).Select(i => TestEvents.Incoming(TestEvents.Event(
            site: "site-" + rng.Next(2), kiosk: "kiosk-" + rng.Next(3), at: TestEvents.T0.AddMinutes(rng.Next(2 * 24 * 60)),
            happy: (float)rng.NextDouble(), flagged: rng.Next(4) == 0))).ToList(), Ct);
        var expected = await SnapshotAllLevelsAsync();
        await using (var conn = await OpenRawAsync())
        {
            await Exec(conn, "DROP TABLE site_hourly_rollup; DROP TABLE site_daily_rollup; DROP TABLE fleet_hourly_rollup; DROP TABLE fleet_daily_rollup; " +
                "DELETE FROM schema_migrations WHERE version >= 5");
        }

        Assert.Equal(6, await _store.MigrateAsync(Ct));

        var migrated = await SnapshotAllLevelsAsync();
        foreach (var (level, rows) in expected)
        {
            AssertSameRollups(rows, migrated[level]);
        }
    }

    [StoreFact]
    public async Task MigrateAsync_HistogramsInFixedLayout_RewrittenCompactWithSameBins()
    {
        await SeedGridAsync();
        var expected = await SnapshotAllLevelsAsync();
        await using (var conn = await OpenRawAsync())
        {
            foreach (var row in await _store.ReadRollupsAsync(new SummaryQuery(null, null, null, null), hourly: true, Ct))
            {
                var bins = new long[ExpressionClasses.Count * RollupCell.Bins];
                RollupCell.AddHist(row.Hist, bins);
                var blob = new byte[RollupCell.HistBytes];
                for (var i = 0; i < bins.Length; i++)
                {
                    System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(i * sizeof(int)), (int)bins[i]);
                }

                await Exec(conn, "UPDATE hourly_rollup SET hist = @H WHERE site_id = @S AND kiosk_id = @K AND hour_ms = @T",
                    ("H", blob), ("S", row.SiteId), ("K", row.KioskId), ("T", row.HourMs));
            }

            await Exec(conn, "DELETE FROM schema_migrations WHERE version = 6");
        }

        Assert.True((await _store.ReadRollupsAsync(new SummaryQuery(null, null, null, null), hourly: true, Ct)).All(r => r.Hist.Length == RollupCell.HistBytes));
        Assert.Equal(6, await _store.MigrateAsync(Ct));

        var migrated = await SnapshotAllLevelsAsync();
        foreach (var (level, rows) in expected)
        {
            AssertSameRollups(rows, migrated[level]);
        }
    }

    private async Task<Dictionary<(RollupScope Scope, bool Hourly), List<(string Key, long Events, long Flagged, double SumHappy, string Hist)>>> SnapshotAllLevelsAsync()
    {
        var all = new Dictionary<(RollupScope, bool), List<(string, long, long, double, string)>>();
        foreach (var scope in Enum.GetValues<RollupScope>())
        {
            foreach (var hourly in new[] { true, false })
            {
                all[(scope, hourly)] = Snapshot(await _store.ReadRollupsAsync(new SummaryQuery(null, null, null, null), hourly, scope, Ct));
            }
        }

        return all;
    }

    private static void AssertSameRollups(
        List<(string Key, long Events, long Flagged, double SumHappy, string Hist)> expected, List<(string Key, long Events, long Flagged, double SumHappy, string Hist)> actual)
    {
        Assert.Equal(expected.Select(r => (r.Key, r.Events, r.Flagged, r.Hist)), actual.Select(r => (r.Key, r.Events, r.Flagged, r.Hist)));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].SumHappy, actual[i].SumHappy, 3);
        }
    }

    /// <summary>Events over three days at three sites whose kiosk ids repeat, written in batches, then a replay of ten of them.</summary>
    private async Task<List<IncomingEvent>> SeedSpreadAsync()
    {
        var rng = new Random(23);
        var all = new List<IncomingEvent>();
        for (var b = 0; b < 6; b++)
        {
            var batch = Enumerable.Range(0, 60).Select(_ => TestEvents.Incoming(TestEvents.Event(
                site: "site-" + rng.Next(3), kiosk: "kiosk-" + rng.Next(2), at: TestEvents.T0.AddMinutes(rng.Next(3 * 24 * 60)),
                happy: (float)rng.NextDouble(), flagged: rng.Next(6) == 0))).ToList();
            await _store.WriteEventsAsync(batch, Ct);
            all.AddRange(batch);
        }

        // A replay with other scores is a duplicate: stored once, in no roll-up twice.
        var replay = all.Take(10).Select(e => e with { Scores = [.. e.Scores.Select(x => 1 - x)] }).ToList();
        Assert.Equal(new WriteResult(0, 10), await _store.WriteEventsAsync(replay, Ct));
        return all;
    }

    [StoreFact]
    public async Task Summaries_EveryGroupingAndFilter_SameNumbersAsDirectComputationOverRawEvents()
    {
        var events = await SeedSpreadAsync();
        var day = TestEvents.T0.ToUnixTimeMilliseconds();
        string[][] groupings = [[], ["site"], ["kiosk"], ["hour"], ["site", "hour"], ["kiosk", "hour"], ["site", "kiosk"]];
        SummaryQuery[] queries =
        [
            new(null, null, null, null),
            new("site-1", null, null, null),
            new("site-1", "kiosk-0", null, null),
            new(null, "kiosk-1", null, null),
            new(null, null, day + (5 * 3_600_000) + 60_000, day + (2 * 86_400_000) + (3 * 3_600_000) + 1), // partial hours and days at both ends
            new("site-2", null, day + 86_400_000, day + (2 * 86_400_000)), // one whole day
        ];

        foreach (var query in queries)
        {
            foreach (var groupBy in groupings)
            {
                var fast = await Summaries.ComputeAsync(_store, query, groupBy, Ct);
                var direct = DirectSummary(events, query, groupBy);

                var what = $"{query} by [{string.Join(",", groupBy)}]";
                Assert.True(direct.Count > 0, what);
                Assert.Equal(direct.Select(d => d.Key), fast.Groups.Select(g => (g.SiteId, g.KioskId, g.Hour?.ToUnixTimeMilliseconds())));
                foreach (var (d, g) in direct.Zip(fast.Groups))
                {
                    Assert.Equal((d.Cell.Events, d.Cell.Flagged), (g.Events, g.Flagged));
                    Assert.Equal((double)d.Cell.Flagged / d.Cell.Events, g.FlagRate, 1e-12);
                    for (var x = 0; x < ExpressionClasses.Count; x++)
                    {
                        var stats = g.Expressions[ExpressionClasses.Names[x]];
                        Assert.Equal(d.Cell.Mean(x), stats.Mean, 1e-9);
                        Assert.Equal(d.Cell.Percentile(x, 0.5), stats.P50, 1e-12);
                        Assert.Equal(d.Cell.Percentile(x, 0.9), stats.P90, 1e-12);
                        Assert.Equal(d.Cell.Percentile(x, 0.99), stats.P99, 1e-12);

                        // and within one histogram bin of the exact percentile of the raw scores
                        var sorted = d.Scores[x].Order().ToArray();
                        Assert.InRange(stats.P90, sorted[(int)Math.Ceiling(0.9 * sorted.Length) - 1] - 0.0201, sorted[(int)Math.Ceiling(0.9 * sorted.Length) - 1] + 0.0201);
                    }
                }
            }
        }

        // Hour groups over the whole fleet come from the fleet level: one roll-up row per hour, not one per kiosk-hour.
        var byHour = await Summaries.ComputeAsync(_store, new SummaryQuery(null, null, null, null), ["hour"], Ct);
        Assert.Equal(byHour.Groups.Count, byHour.RollupRows);
    }

    /// <summary>The summary computed from the raw events: the same groups, counts, exact means, and a histogram per group.</summary>
    private static List<((string? Site, string? Kiosk, long? Hour) Key, RollupCell Cell, List<double>[] Scores)> DirectSummary(
        IEnumerable<IncomingEvent> events, SummaryQuery q, string[] groupBy)
    {
        bool bySite = groupBy.Contains("site") || groupBy.Contains("kiosk"), byKiosk = groupBy.Contains("kiosk"), byHour = groupBy.Contains("hour");
        var groups = new Dictionary<(string?, string?, long?), (RollupCell Cell, List<double>[] Scores)>();
        foreach (var e in events)
        {
            var hour = RollupKey.HourOf(e.CapturedAtMs);
            if ((q.Site is not null && e.SiteId != q.Site) || (q.Kiosk is not null && e.KioskId != q.Kiosk)
                || (q.FromMs is { } from && hour < RollupKey.HourOf(from)) || (q.ToMs is { } to && hour >= to))
            {
                continue;
            }

            var key = (bySite ? e.SiteId : null, byKiosk ? e.KioskId : null, byHour ? hour : (long?)null);
            if (!groups.TryGetValue(key, out var g))
            {
                g = (new RollupCell(), Enumerable.Range(0, ExpressionClasses.Count).Select(_ => new List<double>()).ToArray());
                groups[key] = g;
            }

            g.Cell.Add(e.Scores, e.Flagged);
            for (var x = 0; x < ExpressionClasses.Count; x++)
            {
                g.Scores[x].Add(e.Scores[x]);
            }
        }

        return groups.OrderBy(g => g.Key.Item1, StringComparer.Ordinal).ThenBy(g => g.Key.Item2, StringComparer.Ordinal).ThenBy(g => g.Key.Item3)
            .Select(g => (g.Key, g.Value.Cell, g.Value.Scores)).ToList();
    }

    [StoreFact]
    public async Task ReadRollupsAsync_DailyLevelWithHourlyEdges_SameTotalsAsHourlyForAnyRange()
    {
        var rng = new Random(11);
        var batch = Enumerable.Range(0, 400).Select(i => TestEvents.Incoming(TestEvents.Event(
            kiosk: "kiosk-" + rng.Next(2), at: TestEvents.T0.AddMinutes(rng.Next(5 * 24 * 60)), happy: (float)rng.NextDouble(), flagged: rng.Next(5) == 0))).ToList();
        await _store.WriteEventsAsync(batch, Ct);
        var day = TestEvents.T0.ToUnixTimeMilliseconds();
        long?[] bounds = [null, day - 1, day, day + 3_600_000, day + 86_400_000, day + (2 * 86_400_000) + 1, day + (3 * 86_400_000) - 1800_000, day + (6 * 86_400_000)];

        foreach (var from in bounds)
        {
            foreach (var to in bounds)
            {
                var q = new SummaryQuery(null, "kiosk-1", from, to);
                var hourly = await _store.ReadRollupsAsync(q, hourly: true, Ct);
                var mixed = await _store.ReadRollupsAsync(q, hourly: false, Ct);
                Assert.Equal((hourly.Sum(r => r.Events), hourly.Sum(r => r.Flagged)), (mixed.Sum(r => r.Events), mixed.Sum(r => r.Flagged)));
                Assert.Equal(hourly.Sum(r => r.SumHappy), mixed.Sum(r => r.SumHappy), 3);
                if (from is null && to is null)
                {
                    Assert.Equal(batch.Count(e => e.KioskId == "kiosk-1"), mixed.Sum(r => r.Events));
                    Assert.True(mixed.Count <= 6, $"whole range should come from daily rows, got {mixed.Count}");
                }
            }
        }
    }

    private static List<(string Key, long Events, long Flagged, double SumHappy, string Hist)> Snapshot(IReadOnlyList<RollupRow> rows) =>
        rows.Select(r => ($"{r.SiteId}/{r.KioskId}/{r.HourMs}", r.Events, r.Flagged, r.SumHappy, Convert.ToHexString(r.Hist)))
            .OrderBy(r => r.Item1, StringComparer.Ordinal).ToList();

    private async Task SeedGridAsync()
    {
        var events = new List<IncomingEvent>();
        for (var i = 0; i < 30; i++)
        {
            events.Add(TestEvents.Incoming(TestEvents.Event(
                site: i % 2 == 0 ? "site-a" : "site-b", kiosk: "kiosk-" + (i % 3), at: TestEvents.T0.AddMinutes(i * 10),
                happy: i % 5 == 0 ? 0.1f : 0.8f, flagged: i % 5 == 0)));
        }

        await _store.WriteEventsAsync(events, Ct);
    }

    [StoreFact]
    public async Task ListEventsAsync_EachFilter_ReturnsOnlyMatchingRows()
    {
        await SeedGridAsync();

        var bySite = await _store.ListEventsAsync(new EventQuery { Site = "site-a", Limit = 100 }, Ct);
        var byKiosk = await _store.ListEventsAsync(new EventQuery { Site = "site-a", Kiosk = "kiosk-0", Limit = 100 }, Ct);
        var byTime = await _store.ListEventsAsync(new EventQuery { FromMs = TestEvents.T0.AddMinutes(100).ToUnixTimeMilliseconds(), ToMs = TestEvents.T0.AddMinutes(150).ToUnixTimeMilliseconds(), Limit = 100 }, Ct);
        var flagged = await _store.ListEventsAsync(new EventQuery { Flagged = true, Limit = 100 }, Ct);
        var neutralTop = await _store.ListEventsAsync(new EventQuery { TopClass = "neutral", Limit = 100 }, Ct);

        Assert.Equal(15, bySite.Count);
        Assert.All(bySite, e => Assert.Equal("site-a", e.SiteId));
        Assert.Equal(5, byKiosk.Count);
        Assert.Equal(5, byTime.Count); // minutes 100,110,120,130,140
        Assert.Equal(6, flagged.Count);
        Assert.All(flagged, e => Assert.True(e.Flagged));
        Assert.Equal(6, neutralTop.Count); // happy 0.1 leaves neutral 0.45 on top
        Assert.True(bySite.Zip(bySite.Skip(1)).All(p => p.First.CapturedAtMs >= p.Second.CapturedAtMs), "newest first");
    }

    [StoreFact]
    public async Task ListEventsAsync_KeysetCursor_PagesCoverAllRowsOnce()
    {
        await SeedGridAsync();
        var seen = new List<string>();
        EventCursor? after = null;
        for (var page = 0; page < 10; page++)
        {
            var rows = await _store.ListEventsAsync(new EventQuery { Limit = 7, After = after }, Ct);
            if (rows.Count == 0)
            {
                break;
            }

            seen.AddRange(rows.Select(r => r.EventId));
            after = new EventCursor(rows[^1].CapturedAtMs, rows[^1].Id);
        }

        Assert.Equal(30, seen.Count);
        Assert.Equal(30, seen.Distinct().Count());
    }

    [StoreFact]
    public async Task ListEventsAsync_SqlLookingFilters_MatchNothingAndChangeNothing()
    {
        await SeedGridAsync();
        string[] attacks = ["' OR '1'='1", "site-a'; DROP TABLE events; --", "\" OR 1=1 --", "site-a' UNION SELECT * FROM api_tokens --", "%", "*"];

        foreach (var a in attacks)
        {
            Assert.Empty(await _store.ListEventsAsync(new EventQuery { Site = a, Limit = 100 }, Ct));
            Assert.Empty(await _store.ListEventsAsync(new EventQuery { Kiosk = a, Limit = 100 }, Ct));
            Assert.Empty(await _store.ListEventsAsync(new EventQuery { TopClass = a, Limit = 100 }, Ct));
            Assert.Empty(await _store.ListEventsAsync(new EventQuery { ReviewState = a, Limit = 100 }, Ct));
            Assert.Empty(await _store.ReadRollupsAsync(new SummaryQuery(a, a, null, null), hourly: true, Ct));
            Assert.Null(await _store.GetEventAsync(a, Ct));
            Assert.Null(await _store.AddReviewAsync(a, "reviewed", a, a, 1, Ct));
        }

        Assert.Equal(30, await _store.CountEventsAsync(Ct));
    }

    [StoreFact]
    public async Task AddReviewAsync_ThreeActions_AppendsTrailWithActorsAndMovesState()
    {
        var wire = TestEvents.Event(flagged: true);
        await _store.WriteEventsAsync([TestEvents.Incoming(wire)], Ct);

        await _store.AddReviewAsync(wire.EventId, "escalate", "looks odd", "alice", 1000, Ct);
        await _store.AddReviewAsync(wire.EventId, "reviewed", "fine after all", "bob", 2000, Ct);
        var detail = await _store.GetEventAsync(wire.EventId, Ct);
        var queue = await _store.ListEventsAsync(new EventQuery { Flagged = true, ReviewState = "open", Limit = 10 }, Ct);

        Assert.Equal("reviewed", detail!.Event.ReviewState);
        Assert.Equal(["escalate/alice/looks odd", "reviewed/bob/fine after all"], detail.Reviews.Select(r => $"{r.Action}/{r.Actor}/{r.Comment}"));
        Assert.Empty(queue);
    }

    [StoreFact]
    public async Task Reviews_UpdateOrDeleteInDatabase_RefusedAsAppendOnly()
    {
        var wire = TestEvents.Event(flagged: true);
        await _store.WriteEventsAsync([TestEvents.Incoming(wire)], Ct);
        await _store.AddReviewAsync(wire.EventId, "dismiss", "no", "alice", 1000, Ct);

        await using var conn = await OpenRawAsync();
        await Assert.ThrowsAnyAsync<DbException>(() => Exec(conn, "UPDATE reviews SET actor = 'mallory'"));
        await Assert.ThrowsAnyAsync<DbException>(() => Exec(conn, "DELETE FROM reviews"));

        Assert.Equal("alice", Assert.Single((await _store.GetEventAsync(wire.EventId, Ct))!.Reviews).Actor);
    }

    private async Task<DbConnection> OpenRawAsync()
    {
        var field = typeof(SqlAuditStore).GetMethod("OpenAsync", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        return await (ValueTask<DbConnection>)field.Invoke(_store, [CancellationToken.None])!;
    }

    private static async Task Exec(DbConnection conn, string sql, params (string Name, object Value)[] args)
    {
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            cmd.Parameters.Add(p);
        }

        await cmd.ExecuteNonQueryAsync();
    }

    [StoreFact]
    public async Task PurgeAsync_PerTableCutoffs_DeletesOnlyWhatIsOlder()
    {
        var old = TestEvents.Event(at: TestEvents.T0.AddDays(-100), heatmap: true, crop: true, flagged: true);
        var middle = TestEvents.Event(at: TestEvents.T0.AddDays(-40), heatmap: true, crop: true, flagged: true);
        var recent = TestEvents.Event(at: TestEvents.T0.AddDays(-5), heatmap: true, crop: true, flagged: true);
        await _store.WriteEventsAsync([TestEvents.Incoming(old), TestEvents.Incoming(middle), TestEvents.Incoming(recent)], Ct);

        var result = await _store.PurgeAsync(new RetentionCutoffs(
            TestEvents.T0.AddDays(-90).ToUnixTimeMilliseconds(), TestEvents.T0.AddDays(-30).ToUnixTimeMilliseconds(),
            TestEvents.T0.AddDays(-10).ToUnixTimeMilliseconds()), Ct);

        Assert.Equal(new RetentionResult(1, 2, 2), result);
        Assert.Null(await _store.GetEventAsync(old.EventId, Ct));
        var m = (await _store.GetEventAsync(middle.EventId, Ct))!;
        Assert.Empty(m.Heatmaps);
        Assert.Null(m.FaceCropPng);
        var r = (await _store.GetEventAsync(recent.EventId, Ct))!;
        Assert.Single(r.Heatmaps);
        Assert.NotNull(r.FaceCropPng);
        Assert.Equal(3, (await _store.ReadRollupsAsync(new SummaryQuery(null, null, null, null), hourly: true, Ct)).Sum(x => x.Events)); // roll-ups outlive events
    }

    [StoreFact]
    public async Task MigrateAsync_SecondRun_IsANoOpAtLatestVersion()
    {
        var again = await _store.MigrateAsync(Ct);

        Assert.Equal(6, again);
    }

    [StoreFact]
    public async Task WriteStatusesAsync_OlderStatusAfterNewer_KeepsNewer()
    {
        var newer = new IncomingStatus("site-a", "kiosk-1", false, 2000, 2100, 5, 3.5, "m", "1.0");
        var older = new IncomingStatus("site-a", "kiosk-1", true, 1000, 2200, 0, 0, "m", "1.0");

        await _store.WriteStatusesAsync([newer], Ct);
        await _store.WriteStatusesAsync([older], Ct);

        var s = Assert.Single(await _store.ListKioskStatusAsync(Ct));
        Assert.False(s.Online);
        Assert.Equal(5, s.OutboxPending);
        Assert.Equal(3.5, s.OldestPendingAgeSeconds);
    }

    [StoreFact]
    public async Task Tokens_CreateFindRevoke_RevokedTokenNotFound()
    {
        var id = await _store.CreateTokenAsync("alice", "supervisor", "abc123", 5, Ct);

        var found = await _store.FindTokenAsync("abc123", Ct);
        var revoked = await _store.RevokeTokenAsync(id, 6, Ct);

        Assert.Equal("alice", found!.Owner);
        Assert.True(revoked);
        Assert.Null(await _store.FindTokenAsync("abc123", Ct));
        Assert.Equal(6, Assert.Single(await _store.ListTokensAsync(Ct)).RevokedAtMs);
    }
}

public sealed class SqliteAuditStoreTests() : AuditStoreContract(StorageProvider.Sqlite)
{
    [Fact]
    public async Task MigrateAsync_NewFile_UsesWriteAheadLog()
    {
        var dir = Directory.CreateTempSubdirectory("edge-audit-").FullName;
        var store = new SqliteAuditStore($"Data Source={dir}/a.db", TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<SqliteAuditStore>.Instance);
        await store.MigrateAsync(CancellationToken.None);

        await using var conn = new SqliteConnection($"Data Source={dir}/a.db");
        await conn.OpenAsync();
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string)(await cmd.ExecuteScalarAsync())!);
    }
}

public sealed class PostgresAuditStoreTests() : AuditStoreContract(StorageProvider.PostgreSql);
