using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Dapper;
using Edge.Audit;
using Edge.Audit.Api;
using Edge.Audit.Ingest;
using Edge.Audit.Storage;
using Edge.Sync.Contract;
using Google.Protobuf;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

// Edge.Audit benchmark: ingest throughput and lag into SQLite and PostgreSQL through the real decoder, channel and
// batching writer; and the summary query over a 10-million-event store (hourly roll-up). Short runs, one machine.
//
//   dotnet run -c Release --project bench/Edge.Audit.Bench -- [--events 60000] [--warmup 30000] [--max-warmup 300000] [--rate-sqlite 5000] [--rate-postgres 10000]
//       [--summary-events 10000000] [--only ingest|summary|heatmap] [--no-postgres] [--no-sqlite] [--data DIR]
//
// The ingest stores are dropped after their run; the summary stores are kept under --data and in the database
// edge_audit_bench_summary_{N}, because generating them takes minutes (remove them by hand when done).
var a = new Args(args);
var events = a.Int("--events", 60_000);
var summaryEvents = a.Int("--summary-events", 10_000_000);
var data = a.Str("--data", Path.Combine(Path.GetTempPath(), "edge-audit-bench"));
var only = a.Str("--only", "");
var withPostgres = !a.Flag("--no-postgres");
var withSqlite = !a.Flag("--no-sqlite");
IngestBench.Writers = a.Int("--writers", 0);
IngestBench.BatchSize = a.Int("--batch", 500);
IngestBench.WarmupEvents = a.Int("--warmup", 30_000);
IngestBench.MaxWarmupEvents = a.Int("--max-warmup", 300_000);
Directory.CreateDirectory(data);
Console.WriteLine($"edge-audit bench · load average {File.ReadAllText("/proc/loadavg").Trim()} · {Environment.ProcessorCount} cores · .NET {Environment.Version} · {TimeProvider.System.GetUtcNow():O}");

if (only is "" or "heatmap")
{
    HeatmapBench.Run(a.Int("--heatmap-runs", 2000));
}

if (only is "" or "ingest")
{
    var sqlitePath = Path.Combine(data, "ingest.db");
    DeleteSqlite(sqlitePath);
    if (withSqlite)
    {
        await IngestBench.RunAsync("SQLite", () => new SqliteAuditStore($"Data Source={sqlitePath}", TimeProvider.System, NullLogger<SqliteAuditStore>.Instance),
            events, a.Int("--rate-sqlite", 5_000));
        SqliteConnection.ClearAllPools();
        DeleteSqlite(sqlitePath);
    }

    if (withPostgres)
    {
        var cs = await Pg.FreshDatabaseAsync("edge_audit_bench_ingest");
        await IngestBench.RunAsync("PostgreSQL", () => new PostgresAuditStore(cs, TimeProvider.System, NullLogger<PostgresAuditStore>.Instance),
            events, a.Int("--rate-postgres", 10_000), () => Pg.BackendCpuAsync(cs));
        await Pg.DropDatabaseAsync("edge_audit_bench_ingest");
    }
}

if (only is "" or "summary")
{
    if (withSqlite)
    {
        await SummaryBench.RunAsync("SQLite", summaryEvents, async () =>
    {
        var path = Path.Combine(data, $"summary-{summaryEvents}.db");
        var store = new SqliteAuditStore($"Data Source={path}", TimeProvider.System, NullLogger<SqliteAuditStore>.Instance);
        await store.MigrateAsync(CancellationToken.None);
        return (store, $"Data Source={path}");
    });
    }

    if (withPostgres)
    {
        await SummaryBench.RunAsync("PostgreSQL", summaryEvents, async () =>
        {
            var cs = await Pg.DatabaseAsync($"edge_audit_bench_summary_{summaryEvents}");
            var store = new PostgresAuditStore(cs, TimeProvider.System, NullLogger<PostgresAuditStore>.Instance);
            await store.MigrateAsync(CancellationToken.None);
            return (store, cs);
        });
    }
}

static void DeleteSqlite(string path)
{
    foreach (var f in new[] { path, path + "-wal", path + "-shm" })
    {
        File.Delete(f);
    }
}

/// <summary>
/// Validation and decoding of codec v2 heatmaps as ingest and the review page run them, on the real maps of the shared
/// vectors (tests/Shared/Fixtures/heatmap-codec-v2.json, written by the kiosk's encoder): thread-CPU ms per map.
/// </summary>
internal static class HeatmapBench
{
    public static void Run(int runs)
    {
        var path = FixturePath();
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(path));
        foreach (var v in doc.RootElement.GetProperty("vectors").EnumerateArray())
        {
            var (w, h) = (v.GetProperty("width").GetInt32(), v.GetProperty("height").GetInt32());
            if (w * h < 4096)
            {
                continue;
            }

            var data = Convert.FromBase64String(v.GetProperty("data").GetString()!);
            for (var i = 0; i < 1000; i++) // past tiered JIT's second tier
            {
                _ = HeatmapDecoder.TryValidate(2, w, h, data);
                _ = HeatmapDecoder.Decode(2, w, h, 0.01f, data);
            }

            var a0 = GC.GetAllocatedBytesForCurrentThread();
            var c0 = ThreadCpu.Milliseconds();
            for (var i = 0; i < runs; i++)
            {
                if (HeatmapDecoder.TryValidate(2, w, h, data) is { } problem)
                {
                    throw new InvalidDataException(problem);
                }
            }

            var validate = (ThreadCpu.Milliseconds() - c0) / runs;
            var validateAllocated = (GC.GetAllocatedBytesForCurrentThread() - a0) / runs;
            c0 = ThreadCpu.Milliseconds();
            for (var i = 0; i < runs; i++)
            {
                _ = HeatmapDecoder.Decode(2, w, h, 0.01f, data);
            }

            var decode = (ThreadCpu.Milliseconds() - c0) / runs;
            Console.WriteLine(FormattableString.Invariant(
                $"heatmap v2 {w}x{h} {data.Length,4} B ({v.GetProperty("name").GetString()}): validate {validate:F3} ms ({validateAllocated} B allocated), decode to floats {decode:F3} ms"));
        }
    }

    private static string FixturePath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "Shared", "Fixtures", "heatmap-codec-v2.json");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("tests/Shared/Fixtures/heatmap-codec-v2.json not found above " + AppContext.BaseDirectory);
    }
}


internal static class IngestBench
{
    private static readonly TimeProvider Time = TimeProvider.System;

    public static int Writers { get; set; }

    public static int BatchSize { get; set; } = 500;

    /// <summary>
    /// Events written before measuring, at least. The service runs for days, so what matters is its steady state: until
    /// the JIT has moved the hot paths to tier 1, a fresh process spends a large part of its CPU compiling, and on a
    /// loaded machine that takes long (measured at load 21: 53 us CPU/event after 30,000 warm-up events, 16 after
    /// 100,000). So the warm-up goes on, 10,000 events at a time, until a round compiles almost nothing new.
    /// </summary>
    public static int WarmupEvents { get; set; } = 30_000;

    public static int MaxWarmupEvents { get; set; } = 300_000;

    /// <summary>Payloads as kiosks send them: 20 kiosks, 10 % with a 64×64 heatmap, 5 % flagged with a face crop.</summary>
    public static (string Topic, byte[] Payload)[] MakePayloads(int n, int seed)
    {
        var rng = new Random(seed);
        var heat = new sbyte[64 * 64];
        for (var i = 0; i < heat.Length; i++)
        {
            heat[i] = (sbyte)rng.Next(-40, 100);
        }

        var heatData = ByteString.CopyFrom(HeatmapDecoder.Encode(heat));
        var crop = ByteString.CopyFrom([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, .. new byte[3000]]);
        var start = Time.GetUtcNow().AddMinutes(-30).ToUnixTimeMilliseconds();
        var result = new (string, byte[])[n];
        for (var i = 0; i < n; i++)
        {
            var kiosk = i % 20;
            var happy = (float)rng.NextDouble();
            var e = new FaceEvent
            {
                SchemaVersion = 1, EventId = Guid.CreateVersion7().ToString("D"), SiteId = "site-" + (kiosk / 5), KioskId = "kiosk-" + kiosk,
                CaptureTimeUnixMs = start + (i * 10L), ModelId = "emotion-int8", ModelSha256 = new string('a', 64),
                Scores = new Expressions { Happy = happy, Neutral = (1 - happy) * 0.5f, Sad = (1 - happy) * 0.1f, Angry = (1 - happy) * 0.1f, Fear = (1 - happy) * 0.1f, Disgust = (1 - happy) * 0.1f, Surprise = (1 - happy) * 0.1f },
                Flagged = i % 20 == 0, FlagReason = i % 20 == 0 ? "low happy" : "", FaceBox = new Box { X1 = 1, Y1 = 2, X2 = 100, Y2 = 120 },
                DetectorScore = 0.9f, FrameWidth = 640, FrameHeight = 480,
            };
            if (i % 10 == 0)
            {
                e.Heatmaps.Add(new Heatmap { TargetClass = "happy", CodecVersion = 1, Width = 64, Height = 64, Scale = 0.01f, Data = heatData });
            }

            if (i % 20 == 0)
            {
                e.FaceCropPng = crop;
            }

            result[i] = ($"edge/v1/{e.SiteId}/{e.KioskId}/events", e.ToByteArray());
        }

        return result;
    }

    /// <param name="serverCpu">CPU used so far by the database server's processes serving this store, where it can be read.</param>
    public static async Task RunAsync(string name, Func<IAuditStore> createStore, int n, int rate, Func<Task<TimeSpan>>? serverCpu = null)
    {
        var store = createStore();
        await store.MigrateAsync(CancellationToken.None);
        var options = Options.Create(new AuditOptions { Ingest = new IngestOptions { Writers = Writers, BatchSize = BatchSize } });
        using var stats = new IngestStats();
        var pipeline = new IngestPipeline(options, stats, Time, NullLogger<IngestPipeline>.Instance);
        using var writer = new BatchWriter(pipeline, store, options, Time, NullLogger<BatchWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);

        // 0. Warm-up (JIT tiering, connection pool, caches), not measured.
        var warmedUp = 0;
        long compiled;
        do
        {
            compiled = JitInfo.GetCompiledMethodCount();
            foreach (var (topic, payload) in MakePayloads(10_000, 100 + warmedUp))
            {
                await pipeline.SubmitAsync(topic, payload, CancellationToken.None);
            }

            await pipeline.WaitUntilDrainedAsync(TimeSpan.FromMinutes(5), CancellationToken.None);
            warmedUp += 10_000;
        }
        while ((warmedUp < WarmupEvents || JitInfo.GetCompiledMethodCount() - compiled > 10) && warmedUp < MaxWarmupEvents);

        var warm = await store.CountEventsAsync(CancellationToken.None);

        // 1. Saturated: submit as fast as the pipeline takes them (the bounded queue pushes back).
        var payloads = MakePayloads(n, 1);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var serverCpuBefore = serverCpu is null ? TimeSpan.Zero : await serverCpu();
        var sw = Stopwatch.StartNew();
        foreach (var (topic, payload) in payloads)
        {
            await pipeline.SubmitAsync(topic, payload, CancellationToken.None);
        }

        await pipeline.WaitUntilDrainedAsync(TimeSpan.FromMinutes(5), CancellationToken.None);
        var seconds = sw.Elapsed.TotalSeconds;
        var cpuPerEvent = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / n; // decode, queue, writer; not the database
        var serverCpuText = serverCpu is null ? "" : $", server {((await serverCpu()) - serverCpuBefore).TotalMicroseconds / n:F0} us CPU/event";
        var saturated = stats.Snapshot();

        // 2. Paced at the target rate for 5 s: the lag a kiosk fleet sending at that rate sees (receipt → committed).
        stats.ResetLag();
        var paced = MakePayloads(rate * 5, 2);
        sw.Restart();
        var next = 0;
        while (next < paced.Length)
        {
            var due = (int)Math.Min(paced.Length, sw.Elapsed.TotalSeconds * rate);
            for (; next < due; next++)
            {
                await pipeline.SubmitAsync(paced[next].Topic, paced[next].Payload, CancellationToken.None);
            }

            await Task.Delay(1);
        }

        await pipeline.WaitUntilDrainedAsync(TimeSpan.FromMinutes(5), CancellationToken.None);
        var pacedSeconds = sw.Elapsed.TotalSeconds;
        var lag = stats.Snapshot();
        pipeline.Complete();
        await writer.StopAsync(CancellationToken.None);

        var stored = await store.CountEventsAsync(CancellationToken.None) - warm;
        Console.WriteLine($"[load {File.ReadAllText("/proc/loadavg")[..14]}] ingest {name,-10}: {n:N0} events (after {warmedUp:N0} warm-up) in {seconds:F2} s = {n / seconds:N0} events/s saturated " +
            $"(batch {options.Value.Ingest.BatchSize}, {writer.WriterCount} writer(s), p99 lag at saturation {saturated.LagP99Ms:F0} ms, this process {cpuPerEvent:F0} us CPU/event{serverCpuText}); " +
            $"paced {rate:N0}/s (offered {paced.Length / pacedSeconds:N0}/s achieved) for {pacedSeconds:F1} s: lag p50 {lag.LagP50Ms:F1} ms, p99 {lag.LagP99Ms:F1} ms, max {lag.LagMaxMs:F1} ms; stored {stored:N0}, store failures {lag.StoreFailures}");
        if (stored != n + paced.Length)
        {
            throw new InvalidOperationException($"{name}: stored {stored}, expected {n + paced.Length}");
        }

        if (store is IAsyncDisposable d)
        {
            await d.DisposeAsync();
        }
    }
}

internal static class SummaryBench
{
    // 4 sites × 5 kiosks, 30 days: 14,400 kiosk-hours; 10 M events ≈ one event every 5 s per kiosk.
    private const int Kiosks = 20;
    private static readonly DateTimeOffset Start = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private const long SpanMs = 30L * 24 * 3600 * 1000;

    public static async Task RunAsync(string name, int n, Func<Task<(IAuditStore Store, string ConnectionString)>> open)
    {
        var (store, cs) = await open();
        var have = await store.CountEventsAsync(CancellationToken.None);
        if (have != n)
        {
            var sw = Stopwatch.StartNew();
            await GenerateAsync(store.Provider, cs, n);
            var gen = sw.Elapsed.TotalSeconds;
            sw.Restart();
            await store.RebuildRollupsAsync(CancellationToken.None);
            Console.WriteLine($"summary {name,-10}: generated {n:N0} events with one SQL statement in {gen:F1} s; roll-up rebuilt from them in {sw.Elapsed.TotalSeconds:F1} s");
        }
        else
        {
            Console.WriteLine($"summary {name,-10}: reusing {n:N0} generated events");
        }

        var startMs = Start.ToUnixTimeMilliseconds();
        var cases = new (string Label, SummaryQuery Query, string[] GroupBy)[]
        {
            ("all 10M events, by site", new SummaryQuery(null, null, null, null), ["site"]),
            ("all 10M events, by kiosk", new SummaryQuery(null, null, null, null), ["kiosk"]),
            ("one site, 7 days, by kiosk", new SummaryQuery("site-1", null, startMs, startMs + (7L * 86_400_000)), ["kiosk"]),
            ("all sites, 10.5 days, by site", new SummaryQuery(null, null, startMs + (43_200_000), startMs + (11L * 86_400_000)), ["site"]),
            ("all 10M events, by hour", new SummaryQuery(null, null, null, null), ["hour"]),
            ("all 10M events, by site,hour", new SummaryQuery(null, null, null, null), ["site", "hour"]),
            ("all 10M events, by kiosk,hour", new SummaryQuery(null, null, null, null), ["kiosk", "hour"]),
            ("one site, 30 days, by hour", new SummaryQuery("site-1", null, null, null), ["hour"]),
            ("one kiosk, 1 day, by hour", new SummaryQuery("site-1", "kiosk-5", startMs + 86_400_000, startMs + (2L * 86_400_000)), ["hour"]),
        };
        foreach (var (label, query, groupBy) in cases)
        {
            // Warm-up as for ingest: the API serves the same summaries for days, so measure once the JIT is quiet.
            SummaryResponseDto? last = null;
            var warmups = 0;
            long compiled;
            do
            {
                compiled = JitInfo.GetCompiledMethodCount();
                last = await Summaries.ComputeAsync(store, query, groupBy, CancellationToken.None);
                warmups++;
            }
            while ((warmups < 3 || JitInfo.GetCompiledMethodCount() - compiled > 0) && warmups < 30);

            var times = new List<double>();
            for (var i = 0; i < 20; i++)
            {
                var sw = Stopwatch.StartNew();
                last = await Summaries.ComputeAsync(store, query, groupBy, CancellationToken.None);
                times.Add(sw.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            var events = last!.Groups.Sum(g => g.Events);
            Console.WriteLine($"summary {name,-10}: {label,-30} {events,12:N0} events, {last.Groups.Count,6:N0} groups from {last.RollupRows,6:N0} roll-up rows: " +
                $"median {times[times.Count / 2]:F1} ms, p90 {times[(times.Count * 9) / 10]:F1} ms, max {times[^1]:F1} ms (20 runs after {warmups} warm-up)");
        }

        if (store is IAsyncDisposable d)
        {
            await d.DisposeAsync();
        }
    }

    private static async Task GenerateAsync(StorageProvider provider, string cs, int n)
    {
        // Scores derive from the row number (a cheap hash), kiosk = n mod 20, one event every SpanMs/(n/20) ms per kiosk.
        var step = SpanMs * Kiosks / n;
        if (provider == StorageProvider.Sqlite)
        {
            await using var conn = new SqliteConnection(cs);
            await conn.OpenAsync();
            await conn.ExecuteAsync("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-400000; DELETE FROM events; DELETE FROM hourly_rollup;");
            await conn.ExecuteAsync($"""
                WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}),
                v AS (SELECT i, ((i * 2654435761) % 1000) / 1000.0 AS h FROM s)
                INSERT INTO events (event_id, site_id, kiosk_id, captured_at_ms, received_at_ms, model_id, model_sha256, angry, disgust, fear, happy,
                    sad, surprise, neutral, top_class, flagged, flag_reason, box_x1, box_y1, box_x2, box_y2, detector_score, frame_width, frame_height)
                SELECT printf('00000000-0000-7000-8000-%012x', i), 'site-' || ((i % {Kiosks}) / 5), 'kiosk-' || (i % {Kiosks}),
                    {Start.ToUnixTimeMilliseconds()} + (i / {Kiosks}) * {step}, {Start.ToUnixTimeMilliseconds()} + (i / {Kiosks}) * {step} + 40,
                    'emotion-int8', 'bench', (1 - h) * 0.1, (1 - h) * 0.1, (1 - h) * 0.1, h, (1 - h) * 0.1, (1 - h) * 0.1, (1 - h) * 0.5,
                    CASE WHEN h >= (1 - h) * 0.5 THEN 'happy' ELSE 'neutral' END, h < 0.05, CASE WHEN h < 0.05 THEN 'low happy' ELSE '' END,
                    10, 20, 110, 140, 0.9, 640, 480
                FROM v
                """, commandTimeout: 3600);
        }
        else
        {
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync();
            await conn.ExecuteAsync("TRUNCATE events; TRUNCATE hourly_rollup;");
            await conn.ExecuteAsync($"""
                SET synchronous_commit = off;
                INSERT INTO events (event_id, site_id, kiosk_id, captured_at_ms, received_at_ms, model_id, model_sha256, angry, disgust, fear, happy,
                    sad, surprise, neutral, top_class, flagged, flag_reason, box_x1, box_y1, box_x2, box_y2, detector_score, frame_width, frame_height)
                SELECT '00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'), 'site-' || ((i % {Kiosks}) / 5), 'kiosk-' || (i % {Kiosks}),
                    {Start.ToUnixTimeMilliseconds()} + (i / {Kiosks}) * {step}, {Start.ToUnixTimeMilliseconds()} + (i / {Kiosks}) * {step} + 40,
                    'emotion-int8', 'bench', (1 - h) * 0.1, (1 - h) * 0.1, (1 - h) * 0.1, h, (1 - h) * 0.1, (1 - h) * 0.1, (1 - h) * 0.5,
                    CASE WHEN h >= (1 - h) * 0.5 THEN 'happy' ELSE 'neutral' END, h < 0.05, CASE WHEN h < 0.05 THEN 'low happy' ELSE '' END,
                    10, 20, 110, 140, 0.9, 640, 480
                FROM (SELECT i, ((i * 2654435761) % 1000) / 1000.0 AS h FROM generate_series(0::bigint, {n - 1}::bigint) AS i) v
                """, commandTimeout: 3600);
            await conn.ExecuteAsync("ANALYZE events");
        }
    }
}

/// <summary>The local PostgreSQL 15 cluster, started here as the tests do; a database per benchmark.</summary>
internal static class Pg
{
    private const string Role = "edge_audit_bench";

    public static async Task<string> FreshDatabaseAsync(string db)
    {
        await EnsureAsync();
        await Psql($"DROP DATABASE IF EXISTS {db}");
        await Psql($"CREATE DATABASE {db} OWNER {Role}");
        return Cs(db);
    }

    /// <summary>
    /// CPU time so far of the server processes connected to the database of <paramref name="cs"/> (the store's pooled
    /// connections), from /proc: what the database spends on the benchmark's statements, background workers excluded.
    /// </summary>
    public static async Task<TimeSpan> BackendCpuAsync(string cs)
    {
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        var pids = await conn.QueryAsync<int>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
        long ticks = 0;
        foreach (var pid in pids)
        {
            try
            {
                var stat = await File.ReadAllTextAsync($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture); // utime, stime
            }
            catch (IOException)
            {
                // the backend has gone
            }
        }

        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
    }

    public static async Task DropDatabaseAsync(string db)
    {
        NpgsqlConnection.ClearAllPools();
        await Psql($"DROP DATABASE IF EXISTS {db}");
    }

    public static async Task<string> DatabaseAsync(string db)
    {
        await EnsureAsync();
        if ((await Psql($"SELECT 1 FROM pg_database WHERE datname = '{db}'")).Trim() != "1")
        {
            await Psql($"CREATE DATABASE {db} OWNER {Role}");
        }

        return Cs(db);
    }

    private static string Cs(string db) => $"Host=127.0.0.1;Port=5432;Username={Role};Password={Role};Database={db};Command Timeout=3600";

    private static async Task EnsureAsync()
    {
        await Run("pg_ctlcluster", "15", "main", "start");
        await Psql($"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{Role}') THEN CREATE ROLE {Role} LOGIN PASSWORD '{Role}'; END IF; END $$;");
    }

    private static async Task<string> Psql(string sql)
    {
        var (code, output) = await Run("runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-tAc", sql);
        return code == 0 ? output : throw new InvalidOperationException($"psql: {output}");
    }

    private static async Task<(int, string)> Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var x in args)
        {
            info.ArgumentList.Add(x);
        }

        using var p = Process.Start(info)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await o + await e);
    }
}

internal sealed class Args(string[] args)
{
    public string Str(string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    public int Int(string name, int fallback) => int.Parse(Str(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    public bool Flag(string name) => args.Contains(name);
}
