using System.Data.Common;
using Edge.Audit.Ingest;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Edge.Audit.Storage;

/// <summary>
/// PostgreSQL through Npgsql. A batch of events is three round trips, whatever its size: (1) one statement inserts the
/// new events with their heatmaps and crops (arrays through unnest) and returns the ids it inserted, and per roll-up
/// level one statement creates the batch's missing cells and one reads them locked; (2) one UPDATE per level writes the
/// sums back; (3) COMMIT. The statements are prepared, so the server plans them once per connection.
/// </summary>
public sealed class PostgresAuditStore : SqlAuditStore, IAsyncDisposable
{
    private const string InsertEventsSql =
        "WITH ins AS (" +
        " INSERT INTO events (event_id, site_id, kiosk_id, captured_at_ms, received_at_ms, model_id, model_sha256, angry, disgust, fear, happy," +
        " sad, surprise, neutral, top_class, flagged, flag_reason, box_x1, box_y1, box_x2, box_y2, detector_score, frame_width, frame_height)" +
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::real[], $9::real[]," +
        " $10::real[], $11::real[], $12::real[], $13::real[], $14::real[], $15::text[], $16::boolean[], $17::text[], $18::real[], $19::real[]," +
        " $20::real[], $21::real[], $22::real[], $23::integer[], $24::integer[])" +
        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id)," +
        " heat AS (" +
        " INSERT INTO heatmaps (event_id, target_class, codec_version, width, height, scale, data, captured_at_ms)" +
        " SELECT h.* FROM unnest($25::text[], $26::text[], $27::integer[], $28::integer[], $29::integer[], $30::real[], $31::bytea[], $32::bigint[])" +
        " AS h (event_id, target_class, codec_version, width, height, scale, data, captured_at_ms)" +
        " WHERE h.event_id IN (SELECT event_id FROM ins) ON CONFLICT DO NOTHING)," +
        " crop AS (" +
        " INSERT INTO face_crops (event_id, png, captured_at_ms)" +
        " SELECT c.* FROM unnest($33::text[], $34::bytea[], $35::bigint[]) AS c (event_id, png, captured_at_ms)" +
        " WHERE c.event_id IN (SELECT event_id FROM ins) ON CONFLICT DO NOTHING)" +
        " SELECT event_id FROM ins";

    private readonly NpgsqlDataSource _dataSource;
    private readonly byte[] _emptyHist = new RollupCell().HistBlob();

    public PostgresAuditStore(string connectionString, TimeProvider timeProvider, ILogger<PostgresAuditStore> logger)
        : base(timeProvider, logger) => _dataSource = NpgsqlDataSource.Create(connectionString);

    public override StorageProvider Provider => StorageProvider.PostgreSql;

    /// <summary>Npgsql's own judgement (connection failures, timeouts, serialization failures, server shutting down, …).</summary>
    public override bool IsTransient(Exception exception) => exception switch
    {
        NpgsqlException e => e.IsTransient,
        IOException or TimeoutException or System.Net.Sockets.SocketException => true,
        _ => false,
    };

    protected override string ForUpdate => " FOR UPDATE";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7243007)", (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public override async Task<WriteResult> WriteEventsAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return new WriteResult(0, 0);
        }

        var unique = WithoutRepeatedIds(events);
        var byId = new Dictionary<string, IncomingEvent>(unique.Count, StringComparer.Ordinal);
        var kioskHours = new HashSet<RollupKey>(); // every cell the batch may add to; those of duplicates are locked for nothing
        foreach (var e in unique)
        {
            byId[e.EventId] = e;
            kioskHours.Add(new RollupKey(e.SiteId, e.KioskId, RollupKey.HourOf(e.CapturedAtMs)));
        }

        var levels = RollupLevel.All;
        var keys = new RollupKey[levels.Count][];
        for (var l = 0; l < levels.Count; l++)
        {
            keys[l] = [.. kioskHours.Select(levels[l].Project).Distinct().Order()]; // sorted: writers lock cells in one order
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        // 1. Events, heatmaps, crops; then per level: missing cells created, the batch's cells read FOR UPDATE.
        var inserted = new List<IncomingEvent>(unique.Count);
        var existing = new Dictionary<RollupKey, RollupRow>[levels.Count];
        await using (var batch = new NpgsqlBatch(connection, tx))
        {
            batch.BatchCommands.Add(InsertEventsCommand(unique));
            for (var l = 0; l < levels.Count; l++)
            {
                batch.BatchCommands.Add(KeyedCommand(EnsureCellsSql(levels[l]), levels[l], keys[l], _emptyHist));
                batch.BatchCommands.Add(KeyedCommand(LockCellsSql(levels[l]), levels[l], keys[l]));
            }

            await batch.PrepareAsync(cancellationToken);
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                inserted.Add(byId[reader.GetString(0)]);
            }

            for (var l = 0; l < levels.Count; l++)
            {
                if (!await reader.NextResultAsync(cancellationToken))
                {
                    throw new InvalidOperationException($"no locked cells came back for {levels[l].Table}");
                }

                existing[l] = (await ReadRollupRowsAsync(reader, levels[l], cancellationToken)).ToDictionary(r => new RollupKey(r.SiteId, r.KioskId, r.HourMs));
            }
        }

        // 2. The cells plus what the inserted events add (only those: a duplicate never counts twice).
        if (inserted.Count > 0)
        {
            var added = new RollupAccumulator();
            foreach (var e in inserted)
            {
                added.Add(e.SiteId, e.KioskId, e.CapturedAtMs, e.Scores, e.Flagged);
            }

            await using var batch = new NpgsqlBatch(connection, tx);
            for (var l = 0; l < levels.Count; l++)
            {
                batch.BatchCommands.Add(UpdateCellsCommand(levels[l], added.For(levels[l]), existing[l]));
            }

            await batch.PrepareAsync(cancellationToken);
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        // 3.
        await tx.CommitAsync(cancellationToken);
        return new WriteResult(inserted.Count, events.Count - inserted.Count);
    }

    private static NpgsqlBatchCommand InsertEventsCommand(List<IncomingEvent> events)
    {
        var n = events.Count;
        var ids = new string[n];
        var sites = new string[n];
        var kiosks = new string[n];
        var captured = new long[n];
        var received = new long[n];
        var models = new string[n];
        var hashes = new string[n];
        var scores = new float[ExpressionClasses.Count][];
        for (var k = 0; k < scores.Length; k++)
        {
            scores[k] = new float[n];
        }

        var top = new string[n];
        var flagged = new bool[n];
        var reasons = new string[n];
        var x1 = new float[n];
        var y1 = new float[n];
        var x2 = new float[n];
        var y2 = new float[n];
        var det = new float[n];
        var fw = new int[n];
        var fh = new int[n];
        var heatmaps = 0;
        var crops = 0;
        for (var i = 0; i < n; i++)
        {
            var e = events[i];
            ids[i] = e.EventId;
            sites[i] = e.SiteId;
            kiosks[i] = e.KioskId;
            captured[i] = e.CapturedAtMs;
            received[i] = e.ReceivedAtMs;
            models[i] = e.ModelId;
            hashes[i] = e.ModelSha256;
            for (var k = 0; k < ExpressionClasses.Count; k++)
            {
                scores[k][i] = e.Scores[k];
            }

            top[i] = ExpressionClasses.Names[e.TopClass];
            flagged[i] = e.Flagged;
            reasons[i] = e.FlagReason;
            x1[i] = e.BoxX1;
            y1[i] = e.BoxY1;
            x2[i] = e.BoxX2;
            y2[i] = e.BoxY2;
            det[i] = e.DetectorScore;
            fw[i] = e.FrameWidth;
            fh[i] = e.FrameHeight;
            heatmaps += e.Heatmaps.Count;
            crops += e.FaceCropPng is null ? 0 : 1;
        }

        var heatEvent = new string[heatmaps];
        var heatClass = new string[heatmaps];
        var heatCodec = new int[heatmaps];
        var heatWidth = new int[heatmaps];
        var heatHeight = new int[heatmaps];
        var heatScale = new float[heatmaps];
        var heatData = new byte[heatmaps][];
        var heatCaptured = new long[heatmaps];
        var cropEvent = new string[crops];
        var cropPng = new byte[crops][];
        var cropCaptured = new long[crops];
        int h = 0, c = 0;
        foreach (var e in events)
        {
            foreach (var m in e.Heatmaps)
            {
                heatEvent[h] = e.EventId;
                heatClass[h] = m.TargetClass;
                heatCodec[h] = m.CodecVersion;
                heatWidth[h] = m.Width;
                heatHeight[h] = m.Height;
                heatScale[h] = m.Scale;
                heatData[h] = m.Data;
                heatCaptured[h++] = e.CapturedAtMs;
            }

            if (e.FaceCropPng is { } png)
            {
                cropEvent[c] = e.EventId;
                cropPng[c] = png;
                cropCaptured[c++] = e.CapturedAtMs;
            }
        }

        var command = new NpgsqlBatchCommand(InsertEventsSql);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter { Value = ids });
        p.Add(new NpgsqlParameter { Value = sites });
        p.Add(new NpgsqlParameter { Value = kiosks });
        p.Add(new NpgsqlParameter { Value = captured });
        p.Add(new NpgsqlParameter { Value = received });
        p.Add(new NpgsqlParameter { Value = models });
        p.Add(new NpgsqlParameter { Value = hashes });
        foreach (var s in scores)
        {
            p.Add(new NpgsqlParameter { Value = s });
        }

        p.Add(new NpgsqlParameter { Value = top });
        p.Add(new NpgsqlParameter { Value = flagged });
        p.Add(new NpgsqlParameter { Value = reasons });
        p.Add(new NpgsqlParameter { Value = x1 });
        p.Add(new NpgsqlParameter { Value = y1 });
        p.Add(new NpgsqlParameter { Value = x2 });
        p.Add(new NpgsqlParameter { Value = y2 });
        p.Add(new NpgsqlParameter { Value = det });
        p.Add(new NpgsqlParameter { Value = fw });
        p.Add(new NpgsqlParameter { Value = fh });
        p.Add(new NpgsqlParameter { Value = heatEvent });
        p.Add(new NpgsqlParameter { Value = heatClass });
        p.Add(new NpgsqlParameter { Value = heatCodec });
        p.Add(new NpgsqlParameter { Value = heatWidth });
        p.Add(new NpgsqlParameter { Value = heatHeight });
        p.Add(new NpgsqlParameter { Value = heatScale });
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea, Value = heatData });
        p.Add(new NpgsqlParameter { Value = heatCaptured });
        p.Add(new NpgsqlParameter { Value = cropEvent });
        p.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea, Value = cropPng });
        p.Add(new NpgsqlParameter { Value = cropCaptured });
        return command;
    }

    /// <summary>"$1::text[], $2::text[], $3::bigint[]": the level's keys as arrays, the first parameters of its statements.</summary>
    private static string KeyArrays(RollupLevel level) =>
        level.Scope switch
        {
            RollupScope.Kiosk => "$1::text[], $2::text[], $3::bigint[]",
            RollupScope.Site => "$1::text[], $2::bigint[]",
            _ => "$1::bigint[]",
        };

    private static int KeyCount(RollupLevel level) => level.HasKiosk ? 3 : level.HasSite ? 2 : 1;

    private static string EnsureCellsSql(RollupLevel level) =>
        $"INSERT INTO {level.Table} ({Columns(level)}) SELECT k.*, 0, 0, 0, 0, 0, 0, 0, 0, 0, ${KeyCount(level) + 1}::bytea " +
        $"FROM unnest({KeyArrays(level)}) AS k ON CONFLICT ({level.KeyColumns}) DO NOTHING";

    private static string LockCellsSql(RollupLevel level) =>
        $"SELECT {SelectColumns(level)} FROM {level.Table} WHERE ({level.KeyColumns}) IN (SELECT * FROM unnest({KeyArrays(level)})) " +
        $"ORDER BY {level.KeyColumns} FOR UPDATE";

    private static string UpdateCellsSql(RollupLevel level)
    {
        var n = KeyCount(level);
        var keyMatch = string.Join(" AND ", level.KeyColumns.Split(", ").Select(k => $"t.{k} = v.{k}"));
        return $"UPDATE {level.Table} AS t SET events = v.events, flagged = v.flagged, sum_angry = v.sum_angry, sum_disgust = v.sum_disgust, " +
            "sum_fear = v.sum_fear, sum_happy = v.sum_happy, sum_sad = v.sum_sad, sum_surprise = v.sum_surprise, sum_neutral = v.sum_neutral, hist = v.hist " +
            $"FROM unnest({KeyArrays(level)}, ${n + 1}::bigint[], ${n + 2}::bigint[], ${n + 3}::float8[], ${n + 4}::float8[], ${n + 5}::float8[], " +
            $"${n + 6}::float8[], ${n + 7}::float8[], ${n + 8}::float8[], ${n + 9}::float8[], ${n + 10}::bytea[]) " +
            $"AS v ({Columns(level)}) WHERE {keyMatch}";
    }

    /// <summary>A statement whose first parameters are the level's keys (then <paramref name="more"/>).</summary>
    private static NpgsqlBatchCommand KeyedCommand(string sql, RollupLevel level, IReadOnlyList<RollupKey> keys, params object[] more)
    {
        var command = new NpgsqlBatchCommand(sql);
        if (level.HasSite)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Site).ToArray() });
        }

        if (level.HasKiosk)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Kiosk).ToArray() });
        }

        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.HourMs).ToArray() });
        foreach (var value in more)
        {
            command.Parameters.Add(value is byte[] bytes
                ? new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = bytes }
                : new NpgsqlParameter { Value = value });
        }

        return command;
    }

    private static NpgsqlBatchCommand UpdateCellsCommand(RollupLevel level, SortedDictionary<RollupKey, RollupCell> added, Dictionary<RollupKey, RollupRow> existing)
    {
        var n = added.Count;
        var events = new long[n];
        var flagged = new long[n];
        var sums = new double[ExpressionClasses.Count][];
        for (var k = 0; k < sums.Length; k++)
        {
            sums[k] = new double[n];
        }

        var hists = new byte[n][];
        var i = 0;
        foreach (var (key, batchCell) in added)
        {
            var cell = new RollupCell();
            cell.Merge(batchCell);
            existing[key].AddTo(cell);
            events[i] = cell.Events;
            flagged[i] = cell.Flagged;
            for (var k = 0; k < sums.Length; k++)
            {
                sums[k][i] = cell.Sums[k];
            }

            hists[i++] = cell.HistBlob();
        }

        var command = KeyedCommand(UpdateCellsSql(level), level, [.. added.Keys], events, flagged);
        foreach (var s in sums)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = s });
        }

        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea, Value = hists });
        return command;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
