using Edge.Audit.Ingest;

namespace Edge.Audit.Storage;

/// <summary>The audit store: one interface, SQLite and PostgreSQL behind it.</summary>
public interface IAuditStore
{
    StorageProvider Provider { get; }

    /// <summary>Applies the versioned migrations not yet applied; returns the schema version.</summary>
    Task<int> MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Stores new events (a known event id is a duplicate, not stored twice) and maintains every roll-up level.</summary>
    Task<WriteResult> WriteEventsAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken);

    /// <summary>Records kiosk statuses (an older status than the one stored is ignored).</summary>
    Task WriteStatusesAsync(IReadOnlyList<IncomingStatus> statuses, CancellationToken cancellationToken);

    /// <summary>
    /// True when a write failed for a reason that passes by itself (database busy or locked, unreachable, out of disk, a
    /// timeout): the ingest writer retries such a write until it succeeds, because the broker still holds the messages
    /// and dropping them would lose them. Other failures point at the data, and the writer isolates the event that causes them.
    /// </summary>
    bool IsTransient(Exception exception);

    Task<IReadOnlyList<EventRow>> ListEventsAsync(EventQuery query, CancellationToken cancellationToken);

    IAsyncEnumerable<EventRow> ExportEventsAsync(EventQuery query, CancellationToken cancellationToken);

    Task<EventDetailRecord?> GetEventAsync(string eventId, CancellationToken cancellationToken);

    /// <summary>Appends a review to the trail and moves the event's state; null when the event is unknown.</summary>
    Task<ReviewRow?> AddReviewAsync(string eventId, string action, string comment, string actor, long atMs, CancellationToken cancellationToken);

    /// <summary>
    /// Roll-up rows covering the query's hours. <paramref name="hourly"/>: one row per kiosk-hour; otherwise whole days come
    /// as one row per kiosk-day (HourMs = the day's start) and only the partial days at the range's edges as hours.
    /// </summary>
    Task<IReadOnlyList<RollupRow>> ReadRollupsAsync(SummaryQuery query, bool hourly, CancellationToken cancellationToken);

    /// <summary>
    /// The same at <paramref name="scope"/>: one row per site (KioskId "") or for the whole fleet (SiteId and KioskId "")
    /// per bucket, read from the roll-up kept at that scope. A site scope cannot filter by kiosk, a fleet scope by either.
    /// </summary>
    Task<IReadOnlyList<RollupRow>> ReadRollupsAsync(SummaryQuery query, bool hourly, RollupScope scope, CancellationToken cancellationToken);

    /// <summary>Recomputes every roll-up level from the events table (after a bulk load or a repair).</summary>
    Task RebuildRollupsAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<KioskStatusRow>> ListKioskStatusAsync(CancellationToken cancellationToken);

    Task<long> CreateTokenAsync(string owner, string role, string tokenSha256, long createdAtMs, CancellationToken cancellationToken);

    Task<TokenRow?> FindTokenAsync(string tokenSha256, CancellationToken cancellationToken);

    Task<IReadOnlyList<TokenRow>> ListTokensAsync(CancellationToken cancellationToken);

    Task<bool> RevokeTokenAsync(long id, long atMs, CancellationToken cancellationToken);

    Task<RetentionResult> PurgeAsync(RetentionCutoffs cutoffs, CancellationToken cancellationToken);

    Task<long> CountEventsAsync(CancellationToken cancellationToken);
}
