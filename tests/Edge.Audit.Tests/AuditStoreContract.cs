using System.Data.Common;
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

    protected AuditStoreContract(StorageProvider provider) => _provider = provider;

    public async Task InitializeAsync() => _store = await Stores.CreateAsync(_provider, _time);

    public async Task DisposeAsync()
    {
        if (_store is IAsyncDisposable d)
        {
            await d.DisposeAsync();
        }
    }

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

        var incremental = Snapshot(await _store.ReadRollupsAsync(new SummaryQuery(null, null, null, null), hourly: true, Ct));
        await _store.RebuildRollupsAsync(Ct);
        var rebuilt = Snapshot(await _store.ReadRollupsAsync(new SummaryQuery(null, null, null, null), hourly: true, Ct));

        Assert.Equal(200, incremental.Sum(r => r.Events));
        Assert.Equal(9, incremental.Count); // 3 kiosks x 3 hours
        Assert.Equal(rebuilt.Select(r => (r.Key, r.Events, r.Flagged, r.Hist)), incremental.Select(r => (r.Key, r.Events, r.Flagged, r.Hist)));
        for (var i = 0; i < rebuilt.Count; i++)
        {
            Assert.Equal(rebuilt[i].SumHappy, incremental[i].SumHappy, 3);
        }
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

    private static async Task Exec(DbConnection conn, string sql)
    {
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
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

        Assert.Equal(4, again);
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
