using System.Data.Common;
using System.Globalization;
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

    protected const string RollupValueColumns =
        "events, flagged, sum_angry, sum_disgust, sum_fear, sum_happy, sum_sad, sum_surprise, sum_neutral, hist";

    protected static string Columns(RollupLevel level) => $"{level.KeyColumns}, {RollupValueColumns}";

    /// <summary>Selects a level's rows as <see cref="RollupRow"/> (the bucket start lands in HourMs; keys the level lacks stay "").</summary>
    protected static string SelectColumns(RollupLevel level) =>
        (level.HasKiosk ? "site_id, kiosk_id, " : level.HasSite ? "site_id, " : "") + $"{level.Bucket} AS hour_ms, {RollupValueColumns}";

    public abstract StorageProvider Provider { get; }

    /// <inheritdoc />
    public abstract bool IsTransient(Exception exception);

    protected TimeProvider Time => timeProvider;

    /// <summary>" FOR UPDATE" where the database locks rows read inside a transaction (PostgreSQL); SQLite locks the file.</summary>
    protected virtual string ForUpdate => string.Empty;

    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

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
            if (m.Version == 4)
            {
                await FillFromHourlyAsync(connection, tx, [RollupLevel.KioskDaily], cancellationToken);
            }
            else if (m.Version == 5)
            {
                await FillFromHourlyAsync(connection, tx, [RollupLevel.SiteHourly, RollupLevel.SiteDaily, RollupLevel.FleetHourly, RollupLevel.FleetDaily], cancellationToken);
            }
            else if (m.Version == 6)
            {
                foreach (var level in RollupLevel.All)
                {
                    await RewriteLevelAsync(connection, tx, level, cancellationToken);
                }
            }

            Log.MigrationApplied(logger, m.Version, m.Name);
            latest = m.Version;
        }

        await tx.CommitAsync(cancellationToken);
        return latest;
    }

    /// <summary>
    /// Inserts the events whose id is new (ON CONFLICT DO NOTHING) with their heatmaps and crops, and adds exactly those
    /// to every roll-up level, in one transaction.
    /// </summary>
    public abstract Task<WriteResult> WriteEventsAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken);

    /// <summary>The batch with a repeated event id kept once (the first), so the insert sees each id once.</summary>
    protected static List<IncomingEvent> WithoutRepeatedIds(IReadOnlyList<IncomingEvent> events)
    {
        var unique = new List<IncomingEvent>(events.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (seen.Add(e.EventId))
            {
                unique.Add(e);
            }
        }

        return unique;
    }

    /// <summary>
    /// Adds the batch's cells to the roll-up in three statements per chunk of cells, whatever the cell count: make sure the
    /// rows exist, read them (locked FOR UPDATE on PostgreSQL, so concurrent instances serialise per cell; keys sorted, so
    /// they lock in one order), then write the sums back with one multi-row upsert.
    /// </summary>
    protected async Task MergeRollupAsync(DbConnection connection, DbTransaction tx, SortedDictionary<RollupKey, RollupCell> cells,
        RollupLevel level, CancellationToken cancellationToken)
    {
        var empty = new RollupCell().HistBlob();
        var table = level.Table;
        var keyColumns = level.KeyColumns;
        foreach (var chunk in cells.Chunk(200))
        {
            var keys = new StringBuilder();
            var values = new StringBuilder();
            var keyArgs = new DynamicParameters();
            var ensureArgs = new DynamicParameters();
            ensureArgs.Add("Empty", empty);
            for (var i = 0; i < chunk.Length; i++)
            {
                var (key, _) = chunk[i];
                var tuple = KeyTuple(level, i);
                keys.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture, $"({tuple})");
                values.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture, $"({tuple}, 0, 0, 0, 0, 0, 0, 0, 0, 0, @Empty)");
                AddKey(keyArgs, level, i, key);
                AddKey(ensureArgs, level, i, key);
            }

            await connection.ExecuteAsync(new CommandDefinition(
                $"INSERT INTO {table} ({Columns(level)}) VALUES {values} ON CONFLICT ({keyColumns}) DO NOTHING",
                ensureArgs, tx, cancellationToken: cancellationToken));
            var existing = (await ReadRollupRowsAsync(connection, level, new CommandDefinition(
                $"SELECT {SelectColumns(level)} FROM {table} WHERE ({keyColumns}) IN (VALUES {keys}) " +
                $"ORDER BY {keyColumns}{ForUpdate}", keyArgs, tx, cancellationToken: cancellationToken)))
                .ToDictionary(r => new RollupKey(r.SiteId, r.KioskId, r.HourMs));

            var upsert = new StringBuilder();
            var upsertArgs = new DynamicParameters();
            for (var i = 0; i < chunk.Length; i++)
            {
                var (key, batchCell) = chunk[i];
                var cell = new RollupCell();
                cell.Merge(batchCell);
                existing[key].AddTo(cell);
                upsert.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture,
                    $"({KeyTuple(level, i)}, @E{i}, @F{i}, @A{i}0, @A{i}1, @A{i}2, @A{i}3, @A{i}4, @A{i}5, @A{i}6, @B{i})");
                AddKey(upsertArgs, level, i, key);
                upsertArgs.Add("E" + i, cell.Events);
                upsertArgs.Add("F" + i, cell.Flagged);
                for (var k = 0; k < ExpressionClasses.Count; k++)
                {
                    upsertArgs.Add(string.Create(CultureInfo.InvariantCulture, $"A{i}{k}"), cell.Sums[k]);
                }

                upsertArgs.Add("B" + i, cell.HistBlob());
            }

            await connection.ExecuteAsync(new CommandDefinition(
                $"INSERT INTO {table} ({Columns(level)}) VALUES {upsert} ON CONFLICT ({keyColumns}) DO UPDATE SET " +
                "events = excluded.events, flagged = excluded.flagged, sum_angry = excluded.sum_angry, sum_disgust = excluded.sum_disgust, " +
                "sum_fear = excluded.sum_fear, sum_happy = excluded.sum_happy, sum_sad = excluded.sum_sad, sum_surprise = excluded.sum_surprise, " +
                "sum_neutral = excluded.sum_neutral, hist = excluded.hist", upsertArgs, tx, cancellationToken: cancellationToken));
        }
    }

    /// <summary>"@S{i}, @K{i}, @H{i}" with only the keys <paramref name="level"/> has.</summary>
    private static string KeyTuple(RollupLevel level, int i) => string.Create(CultureInfo.InvariantCulture,
        $"{(level.HasSite ? $"@S{i}, " : "")}{(level.HasKiosk ? $"@K{i}, " : "")}@H{i}");

    private static void AddKey(DynamicParameters args, RollupLevel level, int i, RollupKey key)
    {
        if (level.HasSite)
        {
            args.Add("S" + i, key.Site);
        }

        if (level.HasKiosk)
        {
            args.Add("K" + i, key.Kiosk);
        }

        args.Add("H" + i, key.HourMs);
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

    public Task<IReadOnlyList<RollupRow>> ReadRollupsAsync(SummaryQuery query, bool hourly, CancellationToken cancellationToken) =>
        ReadRollupsAsync(query, hourly, RollupScope.Kiosk, cancellationToken);

    public async Task<IReadOnlyList<RollupRow>> ReadRollupsAsync(SummaryQuery query, bool hourly, RollupScope scope, CancellationToken cancellationToken)
    {
        if ((query.Kiosk is not null && scope != RollupScope.Kiosk) || (query.Site is not null && scope == RollupScope.Fleet))
        {
            throw new ArgumentException($"a {scope} roll-up cannot be filtered by {(query.Kiosk is not null ? "kiosk" : "site")}", nameof(scope));
        }

        // Hours are included when they start in [hour of From, To). Without hourly grouping, whole days inside that
        // range come from the daily level and only the partial days at the edges from the hourly one.
        var hourLevel = RollupLevel.Of(scope, daily: false);
        var dayLevel = RollupLevel.Of(scope, daily: true);
        var lo = query.FromMs is { } f ? RollupKey.HourOf(f) : (long?)null;
        var hi = query.ToMs;
        await using var connection = await OpenAsync(cancellationToken);
        if (hourly)
        {
            return await ReadLevelAsync(connection, hourLevel, query, lo, hi, cancellationToken);
        }

        var dayStart = lo is { } l ? RollupKey.DayCeiling(l) : (long?)null;
        var dayEnd = hi is { } h ? RollupKey.DayCeiling(h - (23 * RollupKey.HourMsLength)) : (long?)null;
        if (dayStart is not null && dayEnd is not null && dayEnd <= dayStart)
        {
            return await ReadLevelAsync(connection, hourLevel, query, lo, hi, cancellationToken);
        }

        var rows = await ReadLevelAsync(connection, dayLevel, query, dayStart, dayEnd, cancellationToken);
        if (lo is not null && lo < dayStart)
        {
            rows.AddRange(await ReadLevelAsync(connection, hourLevel, query, lo, dayStart, cancellationToken));
        }

        if (hi is not null && dayEnd < hi)
        {
            rows.AddRange(await ReadLevelAsync(connection, hourLevel, query, dayEnd, hi, cancellationToken));
        }

        return rows;
    }

    private static async Task<List<RollupRow>> ReadLevelAsync(DbConnection connection, RollupLevel level, SummaryQuery query,
        long? from, long? to, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {SelectColumns(level)} FROM {level.Table} WHERE 1 = 1");
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

        if (from is not null)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND {level.Bucket} >= @From");
            args.Add("From", from.Value);
        }

        if (to is not null)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND {level.Bucket} < @To");
            args.Add("To", to.Value);
        }

        return await ReadRollupRowsAsync(connection, level, new CommandDefinition(sql.ToString(), args, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Runs a SELECT of <see cref="SelectColumns"/> on <paramref name="level"/> and maps the rows by position (a summary
    /// by kiosk and hour reads one row per kiosk-hour, so the per-row cost shows).
    /// </summary>
    protected static async Task<List<RollupRow>> ReadRollupRowsAsync(DbConnection connection, RollupLevel level, CommandDefinition command)
    {
        await using var reader = await connection.ExecuteReaderAsync(command);
        return await ReadRollupRowsAsync(reader, level, command.CancellationToken);
    }

    /// <summary>The current result set of <paramref name="reader"/>, a SELECT of <see cref="SelectColumns"/> on <paramref name="level"/>.</summary>
    protected static async Task<List<RollupRow>> ReadRollupRowsAsync(DbDataReader reader, RollupLevel level, CancellationToken cancellationToken)
    {
        var rows = new List<RollupRow>();
        var k = level.HasKiosk ? 2 : level.HasSite ? 1 : 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new RollupRow
            {
                SiteId = level.HasSite ? reader.GetString(0) : "",
                KioskId = level.HasKiosk ? reader.GetString(1) : "",
                HourMs = reader.GetInt64(k),
                Events = reader.GetInt64(k + 1),
                Flagged = reader.GetInt64(k + 2),
                SumAngry = reader.GetDouble(k + 3),
                SumDisgust = reader.GetDouble(k + 4),
                SumFear = reader.GetDouble(k + 5),
                SumHappy = reader.GetDouble(k + 6),
                SumSad = reader.GetDouble(k + 7),
                SumSurprise = reader.GetDouble(k + 8),
                SumNeutral = reader.GetDouble(k + 9),
                Hist = reader.GetFieldValue<byte[]>(k + 10),
            });
        }

        return rows;
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
                    scores[i] = (float)reader.GetDouble(4 + i);
                }

                rollup.Add(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), scores, reader.GetBoolean(3));
            }
        }

        await using var write = await OpenAsync(cancellationToken);
        await using var tx = await write.BeginTransactionAsync(cancellationToken);
        foreach (var level in RollupLevel.All)
        {
            await write.ExecuteAsync(new CommandDefinition($"DELETE FROM {level.Table}", transaction: tx, cancellationToken: cancellationToken));
            await MergeRollupAsync(write, tx, rollup.For(level), level, cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Writes every row of <paramref name="level"/> again, so its histograms take the current layout (data step of migration 6).</summary>
    private async Task RewriteLevelAsync(DbConnection connection, DbTransaction tx, RollupLevel level, CancellationToken cancellationToken)
    {
        var rows = await ReadRollupRowsAsync(connection, level, new CommandDefinition(
            $"SELECT {SelectColumns(level)} FROM {level.Table}", transaction: tx, cancellationToken: cancellationToken));
        var cells = new SortedDictionary<RollupKey, RollupCell>();
        foreach (var row in rows)
        {
            var cell = new RollupCell();
            row.AddTo(cell);
            cells[new RollupKey(row.SiteId, row.KioskId, row.HourMs)] = cell;
        }

        await connection.ExecuteAsync(new CommandDefinition($"DELETE FROM {level.Table}", transaction: tx, cancellationToken: cancellationToken));
        await MergeRollupAsync(connection, tx, cells, level, cancellationToken);
    }

    /// <summary>Fills <paramref name="levels"/> from the hourly kiosk level (data step of the migrations that add a level, for stores that had events before it).</summary>
    private async Task FillFromHourlyAsync(DbConnection connection, DbTransaction tx, IReadOnlyList<RollupLevel> levels, CancellationToken cancellationToken)
    {
        var hourly = await ReadRollupRowsAsync(connection, RollupLevel.KioskHourly, new CommandDefinition(
            $"SELECT {SelectColumns(RollupLevel.KioskHourly)} FROM {RollupLevel.KioskHourly.Table}", transaction: tx, cancellationToken: cancellationToken));
        var cells = new Dictionary<RollupKey, RollupCell>();
        foreach (var row in hourly)
        {
            var cell = new RollupCell();
            row.AddTo(cell);
            cells[new RollupKey(row.SiteId, row.KioskId, row.HourMs)] = cell;
        }

        foreach (var level in levels)
        {
            await connection.ExecuteAsync(new CommandDefinition($"DELETE FROM {level.Table}", transaction: tx, cancellationToken: cancellationToken));
            await MergeRollupAsync(connection, tx, RollupAccumulator.Project(cells, level), level, cancellationToken);
        }
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
