using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text;
using Dapper;
using Edge.Audit.Ingest;
using Microsoft.Extensions.Logging;

namespace Edge.Audit.Storage;

/// <summary>
/// The SQL both databases understand (SQLite ≥ 3.35 and PostgreSQL 15 share ON CONFLICT, RETURNING and row values).
/// Subclasses supply connections, the bulk insert and the few spellings that differ. Every value is a parameter.
/// </summary>
public abstract class SqlAuditStore(TimeProvider timeProvider, ILogger logger) : IAuditStore
{
    static SqlAuditStore() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    protected const string EventColumns =
        "id, event_id, site_id, kiosk_id, captured_at_ms, received_at_ms, model_id, model_sha256, angry, disgust, fear, happy, sad, " +
        "surprise, neutral, top_class, flagged, flag_reason, box_x1, box_y1, box_x2, box_y2, detector_score, frame_width, frame_height, review_state";

    private const string RollupColumns =
        "site_id, kiosk_id, hour_ms, events, flagged, sum_angry, sum_disgust, sum_fear, sum_happy, sum_sad, sum_surprise, sum_neutral, hist";

    public abstract StorageProvider Provider { get; }

    protected TimeProvider Time => timeProvider;

    /// <summary>" FOR UPDATE" where the database locks rows read inside a transaction (PostgreSQL); SQLite locks the file.</summary>
    protected virtual string ForUpdate => string.Empty;

    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Inserts the events whose id is new (ON CONFLICT DO NOTHING) and returns those that were inserted.</summary>
    protected abstract Task<List<IncomingEvent>> InsertNewEventsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken);

    /// <summary>Serialises migrations between instances (PostgreSQL advisory lock); SQLite's write transaction already does.</summary>
    protected virtual Task LockForMigrationAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await LockForMigrationAsync(connection, tx, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
            transaction: tx, cancellationToken: cancellationToken));
        var current = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", transaction: tx, cancellationToken: cancellationToken));
        var latest = (int)current;
        foreach (var m in Migrations.For(Provider))
        {
            if (m.Version <= current)
            {
                continue;
            }

            await connection.ExecuteAsync(new CommandDefinition(m.Sql, transaction: tx, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (@Version, @Name, @At)",
                new { m.Version, m.Name, At = timeProvider.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: cancellationToken));
            Log.MigrationApplied(logger, m.Version, m.Name);
            latest = m.Version;
        }

        await tx.CommitAsync(cancellationToken);
        return latest;
    }

    public async Task<WriteResult> WriteEventsAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return new WriteResult(0, 0);
        }

        var unique = new List<IncomingEvent>(events.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (seen.Add(e.EventId))
            {
                unique.Add(e);
            }
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var inserted = await InsertNewEventsAsync(connection, tx, unique, cancellationToken);
        var rollup = new RollupAccumulator();
        foreach (var e in inserted)
        {
            rollup.Add(e.SiteId, e.KioskId, e.CapturedAtMs, e.Scores, e.Flagged);
        }

        await MergeRollupAsync(connection, tx, rollup, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return new WriteResult(inserted.Count, events.Count - inserted.Count);
    }

    /// <summary>Adds the batch's cells to the roll-up: make sure the row exists, lock and read it, write the sum. Keys sorted, so instances lock in one order.</summary>
    private async Task MergeRollupAsync(DbConnection connection, DbTransaction tx, RollupAccumulator rollup, CancellationToken cancellationToken)
    {
        var empty = new RollupCell().HistBlob();
        foreach (var (key, cell) in rollup.Cells)
        {
            var keyArgs = new { Site = key.Site, Kiosk = key.Kiosk, Hour = key.HourMs, Empty = empty };
            await connection.ExecuteAsync(new CommandDefinition(
                $"INSERT INTO hourly_rollup ({RollupColumns}) VALUES (@Site, @Kiosk, @Hour, 0, 0, 0, 0, 0, 0, 0, 0, 0, @Empty) " +
                "ON CONFLICT (site_id, kiosk_id, hour_ms) DO NOTHING", keyArgs, tx, cancellationToken: cancellationToken));
            var existing = await connection.QuerySingleAsync<RollupRow>(new CommandDefinition(
                $"SELECT {RollupColumns} FROM hourly_rollup WHERE site_id = @Site AND kiosk_id = @Kiosk AND hour_ms = @Hour{ForUpdate}",
                keyArgs, tx, cancellationToken: cancellationToken));
            existing.AddTo(cell);
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE hourly_rollup SET events = @Events, flagged = @Flagged, sum_angry = @S0, sum_disgust = @S1, sum_fear = @S2, " +
                "sum_happy = @S3, sum_sad = @S4, sum_surprise = @S5, sum_neutral = @S6, hist = @Hist " +
                "WHERE site_id = @Site AND kiosk_id = @Kiosk AND hour_ms = @Hour",
                new
                {
                    cell.Events, cell.Flagged, S0 = cell.Sums[0], S1 = cell.Sums[1], S2 = cell.Sums[2], S3 = cell.Sums[3],
                    S4 = cell.Sums[4], S5 = cell.Sums[5], S6 = cell.Sums[6], Hist = cell.HistBlob(),
                    Site = key.Site, Kiosk = key.Kiosk, Hour = key.HourMs,
                }, tx, cancellationToken: cancellationToken));
        }
    }

    public async Task WriteStatusesAsync(IReadOnlyList<IncomingStatus> statuses, CancellationToken cancellationToken)
    {
        if (statuses.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var s in statuses)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO kiosk_status (site_id, kiosk_id, online, status_time_ms, last_seen_ms, outbox_pending, oldest_pending_age_seconds, model_id, version) " +
                "VALUES (@SiteId, @KioskId, @Online, @StatusTimeMs, @ReceivedAtMs, @OutboxPending, @OldestPendingAgeSeconds, @ModelId, @Version) " +
                "ON CONFLICT (site_id, kiosk_id) DO UPDATE SET online = excluded.online, status_time_ms = excluded.status_time_ms, " +
                "last_seen_ms = excluded.last_seen_ms, outbox_pending = excluded.outbox_pending, " +
                "oldest_pending_age_seconds = excluded.oldest_pending_age_seconds, model_id = excluded.model_id, version = excluded.version " +
                "WHERE excluded.status_time_ms >= kiosk_status.status_time_ms",
                s, tx, cancellationToken: cancellationToken));
        }

        await tx.CommitAsync(cancellationToken);
    }

    private static (string Where, DynamicParameters Args) BuildFilter(EventQuery q, bool keyset)
    {
        var where = new StringBuilder(" WHERE 1 = 1");
        var args = new DynamicParameters();
        if (q.Site is not null)
        {
            where.Append(" AND site_id = @Site");
            args.Add("Site", q.Site);
        }

        if (q.Kiosk is not null)
        {
            where.Append(" AND kiosk_id = @Kiosk");
            args.Add("Kiosk", q.Kiosk);
        }

        if (q.FromMs is not null)
        {
            where.Append(" AND captured_at_ms >= @FromMs");
            args.Add("FromMs", q.FromMs.Value);
        }

        if (q.ToMs is not null)
        {
            where.Append(" AND captured_at_ms < @ToMs");
            args.Add("ToMs", q.ToMs.Value);
        }

        if (q.Flagged is not null)
        {
            where.Append(" AND flagged = @Flagged");
            args.Add("Flagged", q.Flagged.Value);
        }

        if (q.TopClass is not null)
        {
            where.Append(" AND top_class = @TopClass");
            args.Add("TopClass", q.TopClass);
        }

        if (q.ReviewState is not null)
        {
            where.Append(" AND review_state = @ReviewState");
            args.Add("ReviewState", q.ReviewState);
        }

        if (keyset && q.After is not null)
        {
            where.Append(" AND (captured_at_ms < @CursorMs OR (captured_at_ms = @CursorMs AND id < @CursorId))");
            args.Add("CursorMs", q.After.CapturedAtMs);
            args.Add("CursorId", q.After.Id);
        }

        return (where.ToString(), args);
    }

    public async Task<IReadOnlyList<EventRow>> ListEventsAsync(EventQuery query, CancellationToken cancellationToken)
    {
        var (where, args) = BuildFilter(query, keyset: true);
        args.Add("Limit", query.Limit);
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<EventRow>(new CommandDefinition(
            $"SELECT {EventColumns} FROM events{where} ORDER BY captured_at_ms DESC, id DESC LIMIT @Limit",
            args, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async IAsyncEnumerable<EventRow> ExportEventsAsync(EventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var (where, args) = BuildFilter(query, keyset: false);
        await using var connection = await OpenAsync(cancellationToken);
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
            $"SELECT {EventColumns} FROM events{where} ORDER BY captured_at_ms, id", args,
            flags: CommandFlags.None, cancellationToken: cancellationToken));
        var parse = reader.GetRowParser<EventRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return parse(reader);
        }
    }

    public async Task<EventDetailRecord?> GetEventAsync(string eventId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var args = new { EventId = eventId };
        var row = await connection.QuerySingleOrDefaultAsync<EventRow>(new CommandDefinition(
            $"SELECT {EventColumns} FROM events WHERE event_id = @EventId", args, cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }

        var heatmaps = await connection.QueryAsync<HeatmapRow>(new CommandDefinition(
            "SELECT target_class, codec_version, width, height, scale, data FROM heatmaps WHERE event_id = @EventId ORDER BY target_class",
            args, cancellationToken: cancellationToken));
        var crop = await connection.QuerySingleOrDefaultAsync<byte[]>(new CommandDefinition(
            "SELECT png FROM face_crops WHERE event_id = @EventId", args, cancellationToken: cancellationToken));
        var reviews = await connection.QueryAsync<ReviewRow>(new CommandDefinition(
            "SELECT id, event_id, action, comment, actor, at_ms FROM reviews WHERE event_id = @EventId ORDER BY id",
            args, cancellationToken: cancellationToken));
        return new EventDetailRecord(row, heatmaps.AsList(), crop, reviews.AsList());
    }

    public async Task<ReviewRow?> AddReviewAsync(string eventId, string action, string comment, string actor, long atMs, CancellationToken cancellationToken)
    {
        var state = ReviewActions.StateAfter[action];
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var updated = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE events SET review_state = @State WHERE event_id = @EventId", new { State = state, EventId = eventId }, tx,
            cancellationToken: cancellationToken));
        if (updated == 0)
        {
            return null;
        }

        var review = new ReviewRow { EventId = eventId, Action = action, Comment = comment, Actor = actor, AtMs = atMs };
        review.Id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "INSERT INTO reviews (event_id, action, comment, actor, at_ms) VALUES (@EventId, @Action, @Comment, @Actor, @AtMs) RETURNING id",
            review, tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
        return review;
    }

    public async Task<IReadOnlyList<RollupRow>> ReadRollupsAsync(SummaryQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {RollupColumns} FROM hourly_rollup WHERE 1 = 1");
        var args = new DynamicParameters();
        if (query.Site is not null)
        {
            sql.Append(" AND site_id = @Site");
            args.Add("Site", query.Site);
        }

        if (query.Kiosk is not null)
        {
            sql.Append(" AND kiosk_id = @Kiosk");
            args.Add("Kiosk", query.Kiosk);
        }

        if (query.FromMs is not null)
        {
            sql.Append(" AND hour_ms >= @From");
            args.Add("From", RollupKey.HourOf(query.FromMs.Value));
        }

        if (query.ToMs is not null)
        {
            sql.Append(" AND hour_ms < @To");
            args.Add("To", query.ToMs.Value);
        }

        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<RollupRow>(new CommandDefinition(sql.ToString(), args, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task RebuildRollupsAsync(CancellationToken cancellationToken)
    {
        var rollup = new RollupAccumulator();
        await using (var connection = await OpenAsync(cancellationToken))
        {
            await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
                "SELECT site_id, kiosk_id, captured_at_ms, flagged, angry, disgust, fear, happy, sad, surprise, neutral FROM events",
                cancellationToken: cancellationToken));
            var scores = new float[ExpressionClasses.Count];
            while (await reader.ReadAsync(cancellationToken))
            {
                for (var i = 0; i < scores.Length; i++)
                {
                    scores[i] = Convert.ToSingle(reader.GetValue(4 + i), System.Globalization.CultureInfo.InvariantCulture);
                }

                rollup.Add(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), scores, Convert.ToBoolean(reader.GetValue(3), System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        await using var write = await OpenAsync(cancellationToken);
        await using var tx = await write.BeginTransactionAsync(cancellationToken);
        await write.ExecuteAsync(new CommandDefinition("DELETE FROM hourly_rollup", transaction: tx, cancellationToken: cancellationToken));
        await MergeRollupAsync(write, tx, rollup, cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<KioskStatusRow>> ListKioskStatusAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<KioskStatusRow>(new CommandDefinition(
            "SELECT site_id, kiosk_id, online, status_time_ms, last_seen_ms, outbox_pending, oldest_pending_age_seconds, model_id, version " +
            "FROM kiosk_status ORDER BY site_id, kiosk_id", cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task<long> CreateTokenAsync(string owner, string role, string tokenSha256, long createdAtMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "INSERT INTO api_tokens (owner, role, token_sha256, created_at_ms) VALUES (@Owner, @Role, @Hash, @At) RETURNING id",
            new { Owner = owner, Role = role, Hash = tokenSha256, At = createdAtMs }, cancellationToken: cancellationToken));
    }

    public async Task<TokenRow?> FindTokenAsync(string tokenSha256, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(
            "SELECT id, owner, role, token_sha256, created_at_ms, revoked_at_ms FROM api_tokens WHERE token_sha256 = @Hash AND revoked_at_ms IS NULL",
            new { Hash = tokenSha256 }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<TokenRow>> ListTokensAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<TokenRow>(new CommandDefinition(
            "SELECT id, owner, role, token_sha256, created_at_ms, revoked_at_ms FROM api_tokens ORDER BY id", cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task<bool> RevokeTokenAsync(long id, long atMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var n = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_tokens SET revoked_at_ms = @At WHERE id = @Id AND revoked_at_ms IS NULL", new { Id = id, At = atMs },
            cancellationToken: cancellationToken));
        return n == 1;
    }

    public async Task<RetentionResult> PurgeAsync(RetentionCutoffs cutoffs, CancellationToken cancellationToken)
    {
        // Heatmaps and crops go no later than their events.
        var heatmapCut = Math.Max(cutoffs.HeatmapsBeforeMs, cutoffs.EventsBeforeMs);
        var cropCut = Math.Max(cutoffs.FaceCropsBeforeMs, cutoffs.EventsBeforeMs);
        var heatmaps = await DeleteInChunksAsync(
            "DELETE FROM heatmaps WHERE event_id IN (SELECT event_id FROM heatmaps WHERE captured_at_ms < @Cut LIMIT 2000)", heatmapCut, cancellationToken);
        var crops = await DeleteInChunksAsync(
            "DELETE FROM face_crops WHERE event_id IN (SELECT event_id FROM face_crops WHERE captured_at_ms < @Cut LIMIT 2000)", cropCut, cancellationToken);
        var events = await DeleteInChunksAsync(
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE captured_at_ms < @Cut LIMIT 5000)", cutoffs.EventsBeforeMs, cancellationToken);
        return new RetentionResult(events, heatmaps, crops);
    }

    /// <summary>Short transactions, so ingest is never blocked for long by a big purge.</summary>
    private async Task<long> DeleteInChunksAsync(string sql, long cut, CancellationToken cancellationToken)
    {
        long total = 0;
        await using var connection = await OpenAsync(cancellationToken);
        while (true)
        {
            var n = await connection.ExecuteAsync(new CommandDefinition(sql, new { Cut = cut }, cancellationToken: cancellationToken));
            total += n;
            if (n == 0)
            {
                return total;
            }
        }
    }

    public async Task<long> CountEventsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM events", cancellationToken: cancellationToken));
    }
}
