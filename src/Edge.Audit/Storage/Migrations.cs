namespace Edge.Audit.Storage;

/// <summary>
/// Versioned schema migrations. Never edit one that has shipped: add the next version.
/// The DDL is written once with placeholders for the few types the two databases spell differently.
/// </summary>
internal static class Migrations
{
    public sealed record Migration(int Version, string Name, string Sql);

    public static IReadOnlyList<Migration> For(StorageProvider provider)
    {
        var pg = provider == StorageProvider.PostgreSql;
        string T(string sql) => sql
            .Replace("{ID}", pg ? "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT", StringComparison.Ordinal)
            .Replace("{BOOL}", pg ? "BOOLEAN" : "INTEGER", StringComparison.Ordinal)
            .Replace("{BLOB}", pg ? "BYTEA" : "BLOB", StringComparison.Ordinal)
            .Replace("{REAL}", pg ? "REAL" : "REAL", StringComparison.Ordinal)
            .Replace("{DOUBLE}", pg ? "DOUBLE PRECISION" : "REAL", StringComparison.Ordinal);

        return
        [
            new(1, "events, heatmaps, face crops, reviews, kiosk status, tokens, hourly roll-up", T("""
                CREATE TABLE events (
                    id {ID},
                    event_id TEXT NOT NULL UNIQUE,
                    site_id TEXT NOT NULL,
                    kiosk_id TEXT NOT NULL,
                    captured_at_ms BIGINT NOT NULL,
                    received_at_ms BIGINT NOT NULL,
                    model_id TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,
                    angry {REAL} NOT NULL, disgust {REAL} NOT NULL, fear {REAL} NOT NULL, happy {REAL} NOT NULL,
                    sad {REAL} NOT NULL, surprise {REAL} NOT NULL, neutral {REAL} NOT NULL,
                    top_class TEXT NOT NULL,
                    flagged {BOOL} NOT NULL,
                    flag_reason TEXT NOT NULL,
                    box_x1 {REAL} NOT NULL, box_y1 {REAL} NOT NULL, box_x2 {REAL} NOT NULL, box_y2 {REAL} NOT NULL,
                    detector_score {REAL} NOT NULL,
                    frame_width INTEGER NOT NULL,
                    frame_height INTEGER NOT NULL,
                    review_state TEXT NOT NULL DEFAULT 'open'
                );
                CREATE INDEX ix_events_captured ON events (captured_at_ms, id);
                CREATE INDEX ix_events_kiosk_captured ON events (site_id, kiosk_id, captured_at_ms);
                CREATE INDEX ix_events_queue ON events (flagged, review_state, captured_at_ms);
                CREATE TABLE heatmaps (
                    event_id TEXT NOT NULL,
                    target_class TEXT NOT NULL,
                    codec_version INTEGER NOT NULL,
                    width INTEGER NOT NULL,
                    height INTEGER NOT NULL,
                    scale {REAL} NOT NULL,
                    data {BLOB} NOT NULL,
                    captured_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (event_id, target_class)
                );
                CREATE INDEX ix_heatmaps_captured ON heatmaps (captured_at_ms);
                CREATE TABLE face_crops (
                    event_id TEXT NOT NULL PRIMARY KEY,
                    png {BLOB} NOT NULL,
                    captured_at_ms BIGINT NOT NULL
                );
                CREATE INDEX ix_face_crops_captured ON face_crops (captured_at_ms);
                CREATE TABLE reviews (
                    id {ID},
                    event_id TEXT NOT NULL,
                    action TEXT NOT NULL,
                    comment TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    at_ms BIGINT NOT NULL
                );
                CREATE INDEX ix_reviews_event ON reviews (event_id, id);
                CREATE TABLE kiosk_status (
                    site_id TEXT NOT NULL,
                    kiosk_id TEXT NOT NULL,
                    online {BOOL} NOT NULL,
                    status_time_ms BIGINT NOT NULL,
                    last_seen_ms BIGINT NOT NULL,
                    outbox_pending BIGINT NOT NULL,
                    oldest_pending_age_seconds {DOUBLE} NOT NULL,
                    model_id TEXT NOT NULL,
                    version TEXT NOT NULL,
                    PRIMARY KEY (site_id, kiosk_id)
                );
                CREATE TABLE api_tokens (
                    id {ID},
                    owner TEXT NOT NULL,
                    role TEXT NOT NULL,
                    token_sha256 TEXT NOT NULL UNIQUE,
                    created_at_ms BIGINT NOT NULL,
                    revoked_at_ms BIGINT NULL
                );
                CREATE TABLE hourly_rollup (
                    site_id TEXT NOT NULL,
                    kiosk_id TEXT NOT NULL,
                    hour_ms BIGINT NOT NULL,
                    events BIGINT NOT NULL,
                    flagged BIGINT NOT NULL,
                    sum_angry {DOUBLE} NOT NULL, sum_disgust {DOUBLE} NOT NULL, sum_fear {DOUBLE} NOT NULL,
                    sum_happy {DOUBLE} NOT NULL, sum_sad {DOUBLE} NOT NULL, sum_surprise {DOUBLE} NOT NULL,
                    sum_neutral {DOUBLE} NOT NULL,
                    hist {BLOB} NOT NULL,
                    PRIMARY KEY (site_id, kiosk_id, hour_ms)
                );
                CREATE INDEX ix_rollup_hour ON hourly_rollup (hour_ms);
                """)),
            new(2, "the review trail is append-only", pg
                ? """
                  CREATE FUNCTION reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN RAISE EXCEPTION 'reviews are append-only'; END $$;
                  CREATE TRIGGER reviews_no_update BEFORE UPDATE OR DELETE ON reviews
                      FOR EACH ROW EXECUTE FUNCTION reviews_append_only();
                  """
                : """
                  CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews
                  BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
                  CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews
                  BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
                  """),
            new(3, "heatmaps and crops are already compressed: PostgreSQL stores them out of line without trying pglz", pg
                ? """
                  ALTER TABLE heatmaps ALTER COLUMN data SET STORAGE EXTERNAL;
                  ALTER TABLE face_crops ALTER COLUMN png SET STORAGE EXTERNAL;
                  """
                : "SELECT 1;"),
            new(4, "daily roll-up: long-range summaries read one row per kiosk-day", T("""
                CREATE TABLE daily_rollup (
                    site_id TEXT NOT NULL,
                    kiosk_id TEXT NOT NULL,
                    day_ms BIGINT NOT NULL,
                    events BIGINT NOT NULL,
                    flagged BIGINT NOT NULL,
                    sum_angry {DOUBLE} NOT NULL, sum_disgust {DOUBLE} NOT NULL, sum_fear {DOUBLE} NOT NULL,
                    sum_happy {DOUBLE} NOT NULL, sum_sad {DOUBLE} NOT NULL, sum_surprise {DOUBLE} NOT NULL,
                    sum_neutral {DOUBLE} NOT NULL,
                    hist {BLOB} NOT NULL,
                    PRIMARY KEY (site_id, kiosk_id, day_ms)
                );
                CREATE INDEX ix_daily_rollup_day ON daily_rollup (day_ms);
                """)),
            new(5, "site and fleet roll-ups: a summary reads one row per group and bucket it returns, not one per kiosk behind it", T("""
                CREATE TABLE site_hourly_rollup (
                    site_id TEXT NOT NULL,
                    hour_ms BIGINT NOT NULL,
                    events BIGINT NOT NULL,
                    flagged BIGINT NOT NULL,
                    sum_angry {DOUBLE} NOT NULL, sum_disgust {DOUBLE} NOT NULL, sum_fear {DOUBLE} NOT NULL,
                    sum_happy {DOUBLE} NOT NULL, sum_sad {DOUBLE} NOT NULL, sum_surprise {DOUBLE} NOT NULL,
                    sum_neutral {DOUBLE} NOT NULL,
                    hist {BLOB} NOT NULL,
                    PRIMARY KEY (site_id, hour_ms)
                );
                CREATE INDEX ix_site_hourly_rollup_hour ON site_hourly_rollup (hour_ms);
                CREATE TABLE site_daily_rollup (
                    site_id TEXT NOT NULL,
                    day_ms BIGINT NOT NULL,
                    events BIGINT NOT NULL,
                    flagged BIGINT NOT NULL,
                    sum_angry {DOUBLE} NOT NULL, sum_disgust {DOUBLE} NOT NULL, sum_fear {DOUBLE} NOT NULL,
                    sum_happy {DOUBLE} NOT NULL, sum_sad {DOUBLE} NOT NULL, sum_surprise {DOUBLE} NOT NULL,
                    sum_neutral {DOUBLE} NOT NULL,
                    hist {BLOB} NOT NULL,
                    PRIMARY KEY (site_id, day_ms)
                );
                CREATE INDEX ix_site_daily_rollup_day ON site_daily_rollup (day_ms);
                CREATE TABLE fleet_hourly_rollup (
                    hour_ms BIGINT NOT NULL PRIMARY KEY,
                    events BIGINT NOT NULL,
                    flagged BIGINT NOT NULL,
                    sum_angry {DOUBLE} NOT NULL, sum_disgust {DOUBLE} NOT NULL, sum_fear {DOUBLE} NOT NULL,
                    sum_happy {DOUBLE} NOT NULL, sum_sad {DOUBLE} NOT NULL, sum_surprise {DOUBLE} NOT NULL,
                    sum_neutral {DOUBLE} NOT NULL,
                    hist {BLOB} NOT NULL
                );
                CREATE TABLE fleet_daily_rollup (
                    day_ms BIGINT NOT NULL PRIMARY KEY,
                    events BIGINT NOT NULL,
                    flagged BIGINT NOT NULL,
                    sum_angry {DOUBLE} NOT NULL, sum_disgust {DOUBLE} NOT NULL, sum_fear {DOUBLE} NOT NULL,
                    sum_happy {DOUBLE} NOT NULL, sum_sad {DOUBLE} NOT NULL, sum_surprise {DOUBLE} NOT NULL,
                    sum_neutral {DOUBLE} NOT NULL,
                    hist {BLOB} NOT NULL
                );
                """)),
            new(6, "roll-up histograms in the compact layout (rewritten by the data step)", "SELECT 1;"),
        ];
    }
}
