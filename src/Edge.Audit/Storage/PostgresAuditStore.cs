using System.Data.Common;
using Edge.Audit.Ingest;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Edge.Audit.Storage;

/// <summary>PostgreSQL through Npgsql: a whole batch is one INSERT … SELECT FROM unnest(arrays) … RETURNING, one round trip.</summary>
public sealed class PostgresAuditStore : SqlAuditStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;

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

    protected override async Task<List<IncomingEvent>> InsertNewEventsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken)
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
        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = new float[n];
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
        var byId = new Dictionary<string, IncomingEvent>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            var e = events[i];
            byId[e.EventId] = e;
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
        }

        var pg = (NpgsqlConnection)connection;
        var tx = (NpgsqlTransaction)transaction;
        var inserted = new List<IncomingEvent>(n);
        await using (var cmd = new NpgsqlCommand(
            "INSERT INTO events (event_id, site_id, kiosk_id, captured_at_ms, received_at_ms, model_id, model_sha256, angry, disgust, fear, happy, " +
            "sad, surprise, neutral, top_class, flagged, flag_reason, box_x1, box_y1, box_x2, box_y2, detector_score, frame_width, frame_height) " +
            "SELECT * FROM unnest(@ids, @sites, @kiosks, @captured, @received, @models, @hashes, @s0, @s1, @s2, @s3, @s4, @s5, @s6, " +
            "@top, @flagged, @reasons, @x1, @y1, @x2, @y2, @det, @fw, @fh) " +
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id", pg, tx))
        {
            cmd.Parameters.AddWithValue("ids", ids);
            cmd.Parameters.AddWithValue("sites", sites);
            cmd.Parameters.AddWithValue("kiosks", kiosks);
            cmd.Parameters.AddWithValue("captured", captured);
            cmd.Parameters.AddWithValue("received", received);
            cmd.Parameters.AddWithValue("models", models);
            cmd.Parameters.AddWithValue("hashes", hashes);
            for (var k = 0; k < ExpressionClasses.Count; k++)
            {
                cmd.Parameters.AddWithValue("s" + k, scores[k]);
            }

            cmd.Parameters.AddWithValue("top", top);
            cmd.Parameters.AddWithValue("flagged", flagged);
            cmd.Parameters.AddWithValue("reasons", reasons);
            cmd.Parameters.AddWithValue("x1", x1);
            cmd.Parameters.AddWithValue("y1", y1);
            cmd.Parameters.AddWithValue("x2", x2);
            cmd.Parameters.AddWithValue("y2", y2);
            cmd.Parameters.AddWithValue("det", det);
            cmd.Parameters.AddWithValue("fw", fw);
            cmd.Parameters.AddWithValue("fh", fh);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                inserted.Add(byId[reader.GetString(0)]);
            }
        }

        var heatRows = inserted.SelectMany(e => e.Heatmaps.Select(h => (e, h))).ToList();
        if (heatRows.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(
                "INSERT INTO heatmaps (event_id, target_class, codec_version, width, height, scale, data, captured_at_ms) " +
                "SELECT * FROM unnest(@e, @c, @v, @w, @h, @s, @d, @t) ON CONFLICT DO NOTHING", pg, tx);
            cmd.Parameters.AddWithValue("e", heatRows.Select(r => r.e.EventId).ToArray());
            cmd.Parameters.AddWithValue("c", heatRows.Select(r => r.h.TargetClass).ToArray());
            cmd.Parameters.AddWithValue("v", heatRows.Select(r => r.h.CodecVersion).ToArray());
            cmd.Parameters.AddWithValue("w", heatRows.Select(r => r.h.Width).ToArray());
            cmd.Parameters.AddWithValue("h", heatRows.Select(r => r.h.Height).ToArray());
            cmd.Parameters.AddWithValue("s", heatRows.Select(r => r.h.Scale).ToArray());
            cmd.Parameters.Add(new NpgsqlParameter("d", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = heatRows.Select(r => r.h.Data).ToArray() });
            cmd.Parameters.AddWithValue("t", heatRows.Select(r => r.e.CapturedAtMs).ToArray());
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }

        var crops = inserted.Where(e => e.FaceCropPng is not null).ToList();
        if (crops.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(
                "INSERT INTO face_crops (event_id, png, captured_at_ms) SELECT * FROM unnest(@e, @p, @t) ON CONFLICT DO NOTHING", pg, tx);
            cmd.Parameters.AddWithValue("e", crops.Select(e => e.EventId).ToArray());
            cmd.Parameters.Add(new NpgsqlParameter("p", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = crops.Select(e => e.FaceCropPng!).ToArray() });
            cmd.Parameters.AddWithValue("t", crops.Select(e => e.CapturedAtMs).ToArray());
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }

        return inserted;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
