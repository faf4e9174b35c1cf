using System.Data.Common;
using Edge.Audit.Ingest;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Edge.Audit.Storage;

/// <summary>SQLite: one file, WAL, synchronous=NORMAL; one writer at a time (the batching writer).</summary>
public sealed class SqliteAuditStore(string connectionString, TimeProvider timeProvider, ILogger<SqliteAuditStore> logger)
    : SqlAuditStore(timeProvider, logger)
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder(connectionString)
    {
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    private int _walSet;

    public override StorageProvider Provider => StorageProvider.Sqlite;

    /// <summary>SQLITE_BUSY, LOCKED, IOERR, FULL and CANTOPEN pass by themselves (another writer, the disk); so do I/O errors.</summary>
    public override bool IsTransient(Exception exception) => exception switch
    {
        SqliteException e => e.SqliteErrorCode is 5 or 6 or 10 or 13 or 14, // BUSY, LOCKED, IOERR, FULL, CANTOPEN
        IOException or TimeoutException => true,
        _ => false,
    };

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = Interlocked.Exchange(ref _walSet, 1) == 0
                ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000;"
                : "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public override async Task<WriteResult> WriteEventsAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return new WriteResult(0, 0);
        }

        var unique = WithoutRepeatedIds(events);
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var inserted = await InsertNewEventsAsync(connection, tx, unique, cancellationToken);
        var rollup = new RollupAccumulator();
        foreach (var e in inserted)
        {
            rollup.Add(e.SiteId, e.KioskId, e.CapturedAtMs, e.Scores, e.Flagged);
        }

        foreach (var level in RollupLevel.All)
        {
            await MergeRollupAsync(connection, tx, rollup.For(level), level, cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return new WriteResult(inserted.Count, events.Count - inserted.Count);
    }

    /// <summary>Inserts the events whose id is new (ON CONFLICT DO NOTHING) and returns those that were inserted.</summary>
    private static async Task<List<IncomingEvent>> InsertNewEventsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken)
    {
        var inserted = new List<IncomingEvent>(events.Count);
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText =
            "INSERT INTO events (event_id, site_id, kiosk_id, captured_at_ms, received_at_ms, model_id, model_sha256, angry, disgust, fear, happy, " +
            "sad, surprise, neutral, top_class, flagged, flag_reason, box_x1, box_y1, box_x2, box_y2, detector_score, frame_width, frame_height) " +
            "VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7, $p8, $p9, $p10, $p11, $p12, $p13, $p14, $p15, $p16, $p17, $p18, $p19, $p20, $p21, $p22, $p23) " +
            "ON CONFLICT (event_id) DO NOTHING";
        var p = new SqliteParameter[24];
        for (var i = 0; i < p.Length; i++)
        {
            p[i] = new SqliteParameter("$p" + i, null);
            insert.Parameters.Add(p[i]);
        }

        await using var heat = connection.CreateCommand();
        heat.Transaction = transaction;
        heat.CommandText =
            "INSERT INTO heatmaps (event_id, target_class, codec_version, width, height, scale, data, captured_at_ms) " +
            "VALUES ($e, $c, $v, $w, $h, $s, $d, $t) ON CONFLICT DO NOTHING";
        var hp = new[] { "$e", "$c", "$v", "$w", "$h", "$s", "$d", "$t" }.Select(n => AddParameter(heat, n)).ToArray();

        await using var crop = connection.CreateCommand();
        crop.Transaction = transaction;
        crop.CommandText = "INSERT INTO face_crops (event_id, png, captured_at_ms) VALUES ($e, $png, $t) ON CONFLICT DO NOTHING";
        var cp = new[] { "$e", "$png", "$t" }.Select(n => AddParameter(crop, n)).ToArray();

        foreach (var e in events)
        {
            p[0].Value = e.EventId;
            p[1].Value = e.SiteId;
            p[2].Value = e.KioskId;
            p[3].Value = e.CapturedAtMs;
            p[4].Value = e.ReceivedAtMs;
            p[5].Value = e.ModelId;
            p[6].Value = e.ModelSha256;
            for (var i = 0; i < ExpressionClasses.Count; i++)
            {
                p[7 + i].Value = (double)e.Scores[i];
            }

            p[14].Value = ExpressionClasses.Names[e.TopClass];
            p[15].Value = e.Flagged ? 1 : 0;
            p[16].Value = e.FlagReason;
            p[17].Value = (double)e.BoxX1;
            p[18].Value = (double)e.BoxY1;
            p[19].Value = (double)e.BoxX2;
            p[20].Value = (double)e.BoxY2;
            p[21].Value = (double)e.DetectorScore;
            p[22].Value = e.FrameWidth;
            p[23].Value = e.FrameHeight;
            if (await insert.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                continue;
            }

            inserted.Add(e);
            foreach (var h in e.Heatmaps)
            {
                hp[0].Value = e.EventId;
                hp[1].Value = h.TargetClass;
                hp[2].Value = h.CodecVersion;
                hp[3].Value = h.Width;
                hp[4].Value = h.Height;
                hp[5].Value = (double)h.Scale;
                hp[6].Value = h.Data;
                hp[7].Value = e.CapturedAtMs;
                await heat.ExecuteNonQueryAsync(cancellationToken);
            }

            if (e.FaceCropPng is not null)
            {
                cp[0].Value = e.EventId;
                cp[1].Value = e.FaceCropPng;
                cp[2].Value = e.CapturedAtMs;
                await crop.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        return inserted;
    }

    private static SqliteParameter AddParameter(DbCommand command, string name)
    {
        var parameter = new SqliteParameter(name, null);
        command.Parameters.Add(parameter);
        return parameter;
    }
}
