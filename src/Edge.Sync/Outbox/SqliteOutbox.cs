using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Edge.Sync.Outbox;

/// <summary>One pending event as stored.</summary>
/// <param name="Seq">Position in the outbox (strictly increasing; publishing follows it).</param>
/// <param name="EventId">The event id (UUID v7 text).</param>
/// <param name="Topic">The MQTT topic.</param>
/// <param name="Payload">The serialised event.</param>
/// <param name="CreatedUnixMicros">When it entered the outbox.</param>
public sealed record OutboxRecord(long Seq, string EventId, string Topic, byte[] Payload, long CreatedUnixMicros)
{
    /// <summary>Bytes this record counts against the cap.</summary>
    public long Size => Payload.Length + Topic.Length;
}

/// <summary>Counts of the outbox at one moment.</summary>
public readonly record struct OutboxStats(long PendingCount, long PendingBytes, TimeSpan OldestPendingAge, long DeadLetterCount);

/// <summary>
/// The kiosk outbox: every event is committed to SQLite (WAL) before it may be published and is deleted only after
/// the broker's PUBACK. One writer task owns the write connection and groups queued enqueues, acknowledgements and
/// dead-letter moves into few transactions (group commit), so <c>synchronous=FULL</c> costs one fsync per batch, not per event.
/// A second connection reads pending events in <c>seq</c> order for the publisher.
/// </summary>
public sealed class SqliteOutbox : IAsyncDisposable
{
    private const int SqliteFull = 13;

    private readonly OutboxOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SyncMetrics _metrics;
    private readonly SqliteConnection _write;
    private readonly SqliteConnection _read;
    private readonly SqliteConnection _checkpoint;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _checkpointer;
    private long _commits;
    private readonly SemaphoreSlim _readGate = new(1, 1);
    private readonly SemaphoreSlim _queueSlots;
    private readonly Channel<Op> _ops = Channel.CreateUnbounded<Op>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly Lock _statsGate = new();
    private TaskCompletionSource _newData = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _pendingCount;
    private long _pendingBytes;
    private long _deadLetterCount;
    private long _lastSeq;
    private volatile string? _lastWriteError;
    private long _clockWall; // the wall clock (µs) and the monotonic timestamp at the writer's last look, to see steps
    private long _clockMono;

    private SqliteOutbox(OutboxOptions options, TimeProvider time, ILogger logger, SyncMetrics metrics, SqliteConnection write, SqliteConnection read, SqliteConnection checkpoint)
    {
        _checkpoint = checkpoint;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _write = write;
        _read = read;
        _queueSlots = new SemaphoreSlim(options.WriteQueueCapacity, options.WriteQueueCapacity);
        (_clockWall, _clockMono) = (NowMicros(), time.GetTimestamp());
        _writer = Task.Run(WriterLoopAsync);
        _checkpointer = Task.Run(CheckpointLoopAsync);
    }

    /// <summary>The last write error (e.g. disk full), cleared by the next successful write; null when writes work.</summary>
    public string? LastWriteError => _lastWriteError;

    /// <summary>Opens (creating if needed) the outbox file and counts what is pending.</summary>
    public static SqliteOutbox Open(OutboxOptions options, TimeProvider time, ILogger logger, SyncMetrics metrics)
    {
        var full = System.IO.Path.GetFullPath(options.Path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        var connectionString = new SqliteConnectionStringBuilder { DataSource = full, Pooling = false }.ToString();
        var write = new SqliteConnection(connectionString);
        var read = new SqliteConnection(connectionString);
        var checkpoint = new SqliteConnection(connectionString);
        try
        {
            write.Open();
            Execute(write, $"""
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous={(options.Synchronous == OutboxSynchronous.Full ? "FULL" : "NORMAL")};
                PRAGMA busy_timeout=5000;
                PRAGMA wal_autocheckpoint=0;
                CREATE TABLE IF NOT EXISTS outbox(
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_id TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    created_us INTEGER NOT NULL,
                    size INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS dead_letter(
                    seq INTEGER PRIMARY KEY,
                    event_id TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    created_us INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    dead_us INTEGER NOT NULL);
                PRAGMA user_version=1;
                """);
            if (options.MaxPageCount is { } pages)
            {
                Execute(write, $"PRAGMA max_page_count={pages};");
            }

            read.Open();
            Execute(read, "PRAGMA busy_timeout=5000;");
            checkpoint.Open();
            Execute(checkpoint, "PRAGMA busy_timeout=5000;");
            var outbox = new SqliteOutbox(options, time, logger, metrics, write, read, checkpoint);
            using (var cmd = write.CreateCommand())
            {
                cmd.CommandText = "SELECT COUNT(*), COALESCE(SUM(size),0), COALESCE(MAX(seq),0), (SELECT COUNT(*) FROM dead_letter) FROM outbox";
                using var r = cmd.ExecuteReader();
                r.Read();
                outbox._pendingCount = r.GetInt64(0);
                outbox._pendingBytes = r.GetInt64(1);
                outbox._lastSeq = r.GetInt64(2);
                outbox._deadLetterCount = r.GetInt64(3);
            }

            Log.OutboxOpened(logger, full, outbox._pendingCount, outbox._pendingBytes, options.Synchronous);
            return outbox;
        }
        catch
        {
            write.Dispose();
            read.Dispose();
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Commits one event and returns its sequence number once it is durable (per <see cref="OutboxOptions.Synchronous"/>).
    /// Throws <see cref="EventRefusedException"/> (counted) when the cap policy refuses it or the disk is full.
    /// </summary>
    public async ValueTask<long> EnqueueAsync(string eventId, string topic, byte[] payload, CancellationToken cancellationToken)
    {
        if (payload.Length > _options.MaxEventBytes)
        {
            _metrics.Refused("too_large");
            Log.EventTooLarge(_logger, eventId, payload.Length, _options.MaxEventBytes);
            throw new EventRefusedException(EventRefusal.TooLarge,
                $"event {eventId} is {payload.Length} bytes; the limit (Sync:Outbox:MaxEventBytes) is {_options.MaxEventBytes}");
        }

        await _queueSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        var op = new EnqueueOp(eventId, topic, payload);
        if (!_ops.Writer.TryWrite(op))
        {
            _queueSlots.Release();
            throw new ObjectDisposedException(nameof(SqliteOutbox));
        }

        // The write happens regardless of cancellation once queued: the caller may stop waiting, the event is still kept.
        return await op.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pending events after <paramref name="afterSeq"/>, in order.</summary>
    public async Task<IReadOnlyList<OutboxRecord>> ReadAsync(long afterSeq, int limit, CancellationToken cancellationToken)
    {
        await _readGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var cmd = _read.CreateCommand();
            cmd.CommandText = "SELECT seq, event_id, topic, payload, created_us FROM outbox WHERE seq > $after ORDER BY seq LIMIT $limit";
            cmd.Parameters.AddWithValue("$after", afterSeq);
            cmd.Parameters.AddWithValue("$limit", limit);
            using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var list = new List<OutboxRecord>(Math.Min(limit, 1024));
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add(new OutboxRecord(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), (byte[])reader.GetValue(3), reader.GetInt64(4)));
            }

            return list;
        }
        finally
        {
            _readGate.Release();
        }
    }

    /// <summary>Completes when an event after <paramref name="afterSeq"/> may exist, or after <paramref name="timeout"/>.</summary>
    public async Task WaitForDataAsync(long afterSeq, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task signal;
        lock (_statsGate)
        {
            if (_lastSeq > afterSeq)
            {
                return;
            }

            signal = _newData.Task;
        }

        try
        {
            await signal.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // a periodic wake-up is fine
        }
    }

    /// <summary>Marks an event acknowledged by the broker: it is deleted in the next write batch.</summary>
    public void Acknowledge(long seq) => _ops.Writer.TryWrite(new AckOp(seq));

    /// <summary>Moves an event the broker refused for good to the dead-letter table (kept for inspection, counted).</summary>
    public void DeadLetter(long seq, string reason) => _ops.Writer.TryWrite(new DeadLetterOp(seq, reason));

    /// <summary>Completes when every operation queued before it is committed.</summary>
    public Task FlushAsync(CancellationToken cancellationToken)
    {
        var op = new FlushOp();
        return _ops.Writer.TryWrite(op) ? op.Done.Task.WaitAsync(cancellationToken) : Task.CompletedTask;
    }

    /// <summary>Deletes events older than <see cref="OutboxOptions.MaxAge"/> (counted as dropped, reason <c>cap_age</c>); returns how many.</summary>
    public async Task<long> ExpireAsync(CancellationToken cancellationToken)
    {
        var op = new ExpireOp();
        if (!_ops.Writer.TryWrite(op))
        {
            return 0;
        }

        return await op.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pending count and bytes (exact, kept by the writer) and the age of the oldest pending event.</summary>
    public async Task<OutboxStats> GetStatsAsync(CancellationToken cancellationToken)
    {
        long count, bytes, dead;
        lock (_statsGate)
        {
            (count, bytes, dead) = (_pendingCount, _pendingBytes, _deadLetterCount);
        }

        var age = TimeSpan.Zero;
        await _readGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var cmd = _read.CreateCommand();
            cmd.CommandText = "SELECT created_us FROM outbox ORDER BY seq LIMIT 1";
            if (await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long created)
            {
                age = TimeSpan.FromMicroseconds(Math.Max(0, NowMicros() - created));
            }
        }
        finally
        {
            _readGate.Release();
        }

        return new OutboxStats(count, bytes, age, dead);
    }

    /// <summary>Dead-lettered events, oldest first (for tools and tests).</summary>
    public async Task<IReadOnlyList<(string EventId, string Reason)>> ReadDeadLettersAsync(int limit, CancellationToken cancellationToken)
    {
        await _readGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var cmd = _read.CreateCommand();
            cmd.CommandText = "SELECT event_id, reason FROM dead_letter ORDER BY seq LIMIT $limit";
            cmd.Parameters.AddWithValue("$limit", limit);
            using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var list = new List<(string, string)>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                list.Add((reader.GetString(0), reader.GetString(1)));
            }

            return list;
        }
        finally
        {
            _readGate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _ops.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        await _checkpointer.ConfigureAwait(false);
        Execute(_checkpoint, "PRAGMA wal_checkpoint(TRUNCATE);");
        _checkpoint.Dispose();
        _stop.Dispose();
        _write.Dispose();
        _read.Dispose();
        _readGate.Dispose();
        _queueSlots.Dispose();
        SqliteConnection.ClearAllPools();
    }

    private long NowMicros() => (_time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    // ---- writer ----

    private async Task WriterLoopAsync()
    {
        var batch = new List<Op>(_options.WriteBatchSize);
        var retry = new List<Op>(); // acknowledgements and dead-letter moves whose transaction failed: again with the next batch
        while (await _ops.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            batch.Clear();
            batch.AddRange(retry);
            retry.Clear();
            while (batch.Count < _options.WriteBatchSize && _ops.Reader.TryRead(out var op))
            {
                batch.Add(op);
            }

            try
            {
                FollowClockSteps();
            }
            catch (Exception ex)
            {
                Log.OutboxWriterFailed(_logger, ex);
            }

            // Each step is its own transaction and fails alone (a locked or full database, an I/O error): removals are
            // kept for the next batch, so a delivered event is not sent again nor counted as expired; enqueues and
            // expiry fail to their callers, counted.
            try
            {
                try
                {
                    ApplyRemovals(batch);
                }
                catch (Exception ex)
                {
                    Log.OutboxWriterFailed(_logger, ex);
                    retry.AddRange(batch.Where(o => o is AckOp or DeadLetterOp));
                }

                try
                {
                    ApplyInserts(batch);
                }
                catch (Exception ex)
                {
                    Log.OutboxWriterFailed(_logger, ex);
                    RefuseWaiting(batch, ex);
                }

                try
                {
                    ApplyExpiry(batch);
                }
                catch (Exception ex)
                {
                    Log.OutboxWriterFailed(_logger, ex);
                    foreach (var op in batch.OfType<ExpireOp>())
                    {
                        op.Fail(ex);
                    }
                }
            }
            finally
            {
                foreach (var op in batch)
                {
                    if (op is EnqueueOp)
                    {
                        _queueSlots.Release();
                    }

                    if (op is FlushOp flush)
                    {
                        flush.Done.TrySetResult();
                    }
                }
            }
        }
    }

    /// <summary>
    /// Ages come from created_us, the wall clock at commit. When the wall clock steps (NTP correcting a kiosk that booted
    /// with a stale clock, perhaps days behind, while the network was down), rows kept before the step are moved by it,
    /// so that expiry sees their true age: otherwise a step forward by more than MaxAge would delete the whole backlog
    /// of the outage as "expired" at the first expiry. A step is the wall clock moving 1 min more, or less, than the
    /// monotonic clock since the last look (a suspended machine counts as a step too).
    /// </summary>
    private void FollowClockSteps()
    {
        var (wall, mono) = (NowMicros(), _time.GetTimestamp());
        var step = wall - _clockWall - (long)_time.GetElapsedTime(_clockMono, mono).TotalMicroseconds;
        if (Math.Abs(step) >= 60_000_000)
        {
            using var shift = _write.CreateCommand();
            shift.CommandText = "UPDATE outbox SET created_us = created_us + $step";
            shift.Parameters.AddWithValue("$step", step);
            var rows = shift.ExecuteNonQuery(); // when it fails, the next batch sees the same step again
            Log.OutboxClockStep(_logger, TimeSpan.FromMicroseconds(step), rows);
        }

        (_clockWall, _clockMono) = (wall, mono);
    }

    /// <summary>The enqueues a failed insert step left waiting are refused: counted, and the health's last write error.</summary>
    private void RefuseWaiting(List<Op> batch, Exception ex)
    {
        var waiting = batch.OfType<EnqueueOp>().Where(o => !o.Done.Task.IsCompleted).ToList();
        if (waiting.Count == 0)
        {
            return;
        }

        _lastWriteError = $"outbox write failed ({_options.Path}): {ex.Message}";
        _metrics.Refused("storage_error", waiting.Count);
        foreach (var op in waiting)
        {
            op.Fail(ex);
        }
    }

    /// <summary>
    /// WAL checkpoints run here, on their own connection, instead of inside a commit (wal_autocheckpoint=0): a PASSIVE
    /// checkpoint never blocks the writer, so a commit never waits for the database file's fsync.
    /// </summary>
    private async Task CheckpointLoopAsync()
    {
        long done = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var commits = Interlocked.Read(ref _commits);
                if (commits == done)
                {
                    continue;
                }

                done = commits;
                try
                {
                    Execute(_checkpoint, "PRAGMA wal_checkpoint(PASSIVE);");
                }
                catch (SqliteException ex)
                {
                    Log.OutboxWriterFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // disposing
        }
    }

    private void ApplyRemovals(List<Op> batch)
    {
        if (!batch.Any(o => o is AckOp or DeadLetterOp))
        {
            return;
        }

        using var tx = _write.BeginTransaction();
        using var delete = _write.CreateCommand();
        delete.Transaction = tx;
        delete.CommandText = "DELETE FROM outbox WHERE seq = $seq RETURNING size";
        var seqParam = delete.Parameters.Add("$seq", SqliteType.Integer);
        using var move = _write.CreateCommand();
        move.Transaction = tx;
        move.CommandText = """
            INSERT OR IGNORE INTO dead_letter(seq, event_id, topic, payload, created_us, reason, dead_us)
            SELECT seq, event_id, topic, payload, created_us, $reason, $now FROM outbox WHERE seq = $seq
            """;
        var moveSeq = move.Parameters.Add("$seq", SqliteType.Integer);
        var moveReason = move.Parameters.Add("$reason", SqliteType.Text);
        move.Parameters.AddWithValue("$now", NowMicros());
        long removed = 0, bytes = 0, dead = 0;
        foreach (var op in batch)
        {
            long seq;
            switch (op)
            {
                case AckOp ack:
                    seq = ack.Seq;
                    break;
                case DeadLetterOp dl:
                    seq = dl.Seq;
                    moveSeq.Value = seq;
                    moveReason.Value = dl.Reason;
                    dead += move.ExecuteNonQuery();
                    break;
                default:
                    continue;
            }

            seqParam.Value = seq;
            if (delete.ExecuteScalar() is long size)
            {
                removed++;
                bytes += size;
            }
        }

        if (dead > 0 && _options.MaxDeadLetters >= 0)
        {
            using var trim = _write.CreateCommand();
            trim.Transaction = tx;
            trim.CommandText = "DELETE FROM dead_letter WHERE seq NOT IN (SELECT seq FROM dead_letter ORDER BY seq DESC LIMIT $keep)";
            trim.Parameters.AddWithValue("$keep", _options.MaxDeadLetters);
            dead -= trim.ExecuteNonQuery();
        }

        tx.Commit();
        Interlocked.Increment(ref _commits);
        lock (_statsGate)
        {
            _pendingCount -= removed;
            _pendingBytes -= bytes;
            _deadLetterCount += dead;
        }
    }

    private void ApplyInserts(List<Op> batch)
    {
        var inserts = batch.OfType<EnqueueOp>().ToList();
        if (inserts.Count == 0)
        {
            return;
        }

        long droppedCount = 0, droppedBytes = 0;
        var accepted = new List<EnqueueOp>(inserts.Count);
        try
        {
            using var tx = _write.BeginTransaction();
            long pendingBytes;
            lock (_statsGate)
            {
                pendingBytes = _pendingBytes;
            }

            var incoming = inserts.Sum(o => o.Size);
            var excess = pendingBytes + incoming - _options.MaxBytes;
            if (excess > 0)
            {
                if (_options.FullPolicy == OutboxFullPolicy.DropOldest)
                {
                    (droppedCount, droppedBytes) = DropOldest(tx, excess);
                    accepted.AddRange(inserts);
                }
                else
                {
                    // RejectNew: accept in order while they fit, refuse the rest.
                    var room = _options.MaxBytes - pendingBytes;
                    foreach (var op in inserts)
                    {
                        if (op.Size <= room)
                        {
                            accepted.Add(op);
                            room -= op.Size;
                        }
                        else
                        {
                            _metrics.Refused("outbox_full");
                            op.Done.TrySetException(new EventRefusedException(EventRefusal.OutboxFull,
                                $"outbox is full ({pendingBytes} of Sync:Outbox:MaxBytes {_options.MaxBytes} bytes) and Sync:Outbox:FullPolicy is RejectNew; event {op.EventId} refused"));
                        }
                    }

                    if (accepted.Count < inserts.Count)
                    {
                        Log.OutboxFullRejected(_logger, inserts.Count - accepted.Count, _options.MaxBytes);
                    }
                }
            }
            else
            {
                accepted.AddRange(inserts);
            }

            using var cmd = _write.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO outbox(event_id, topic, payload, created_us, size) VALUES ($id, $topic, $payload, $created, $size) RETURNING seq";
            var id = cmd.Parameters.Add("$id", SqliteType.Text);
            var topic = cmd.Parameters.Add("$topic", SqliteType.Text);
            var payload = cmd.Parameters.Add("$payload", SqliteType.Blob);
            var created = cmd.Parameters.Add("$created", SqliteType.Integer);
            var size = cmd.Parameters.Add("$size", SqliteType.Integer);
            created.Value = NowMicros(); // stamped here, after FollowClockSteps, in the frame of the rows already kept
            foreach (var op in accepted)
            {
                id.Value = op.EventId;
                topic.Value = op.Topic;
                payload.Value = op.Payload;
                size.Value = op.Size;
                op.Seq = (long)cmd.ExecuteScalar()!;
            }

            tx.Commit();
            Interlocked.Increment(ref _commits);
        }
        catch (SqliteException ex)
        {
            var diskFull = ex.SqliteErrorCode == SqliteFull;
            var reason = diskFull ? EventRefusal.DiskFull : EventRefusal.StorageError;
            _lastWriteError = diskFull ? $"disk full writing {_options.Path}: {ex.Message}" : $"SQLite error {ex.SqliteErrorCode} writing {_options.Path}: {ex.Message}";
            Log.OutboxWriteFailed(_logger, _options.Path, accepted.Count, ex.SqliteErrorCode, ex.Message);
            _metrics.Refused(diskFull ? "disk_full" : "storage_error", accepted.Count);
            foreach (var op in accepted)
            {
                op.Done.TrySetException(new EventRefusedException(reason, _lastWriteError, ex));
            }

            return;
        }

        _lastWriteError = null;
        if (droppedCount > 0)
        {
            _metrics.Dropped("cap_bytes", droppedCount);
            Log.OutboxCapDropped(_logger, droppedCount, droppedBytes, _options.MaxBytes);
        }

        TaskCompletionSource signal;
        lock (_statsGate)
        {
            _pendingCount += accepted.Count - droppedCount;
            _pendingBytes += accepted.Sum(o => o.Size) - droppedBytes;
            _lastSeq = Math.Max(_lastSeq, accepted.Count > 0 ? accepted[^1].Seq : 0);
            signal = _newData;
            _newData = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        _metrics.Enqueued(accepted.Count);
        foreach (var op in accepted)
        {
            op.Done.TrySetResult(op.Seq);
        }

        signal.TrySetResult();
    }

    private (long Count, long Bytes) DropOldest(SqliteTransaction tx, long excess)
    {
        // Find the smallest prefix of the oldest events whose bytes cover the excess, then delete it.
        using var scan = _write.CreateCommand();
        scan.Transaction = tx;
        scan.CommandText = "SELECT seq, size FROM outbox ORDER BY seq";
        long lastSeq = 0, freed = 0, count = 0;
        using (var reader = scan.ExecuteReader())
        {
            while (freed < excess && reader.Read())
            {
                lastSeq = reader.GetInt64(0);
                freed += reader.GetInt64(1);
                count++;
            }
        }

        if (count == 0)
        {
            return (0, 0);
        }

        using var delete = _write.CreateCommand();
        delete.Transaction = tx;
        delete.CommandText = "DELETE FROM outbox WHERE seq <= $last";
        delete.Parameters.AddWithValue("$last", lastSeq);
        delete.ExecuteNonQuery();
        return (count, freed);
    }

    private void ApplyExpiry(List<Op> batch)
    {
        foreach (var op in batch.OfType<ExpireOp>())
        {
            var cutoff = NowMicros() - (long)_options.MaxAge.TotalMicroseconds;
            using var tx = _write.BeginTransaction();
            using var cmd = _write.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "DELETE FROM outbox WHERE created_us < $cutoff RETURNING size";
            cmd.Parameters.AddWithValue("$cutoff", cutoff);
            long count = 0, bytes = 0;
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read())
                {
                    count++;
                    bytes += reader.GetInt64(0);
                }
            }

            tx.Commit();
            lock (_statsGate)
            {
                _pendingCount -= count;
                _pendingBytes -= bytes;
            }

            if (count > 0)
            {
                _metrics.Dropped("cap_age", count);
                Log.OutboxAgeDropped(_logger, count, _options.MaxAge);
            }

            op.Done.TrySetResult(count);
        }
    }

    private abstract class Op
    {
        public virtual void Fail(Exception ex)
        {
        }
    }

    private sealed class EnqueueOp(string eventId, string topic, byte[] payload) : Op
    {
        public string EventId { get; } = eventId;

        public string Topic { get; } = topic;

        public byte[] Payload { get; } = payload;

        public long Size => Payload.Length + Topic.Length;

        public long Seq { get; set; }

        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Fail(Exception ex) => Done.TrySetException(new EventRefusedException(EventRefusal.StorageError, $"outbox write failed: {ex.Message}", ex));
    }

    private sealed class AckOp(long seq) : Op
    {
        public long Seq { get; } = seq;
    }

    private sealed class DeadLetterOp(long seq, string reason) : Op
    {
        public long Seq { get; } = seq;

        public string Reason { get; } = reason;
    }

    private sealed class FlushOp : Op
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class ExpireOp : Op
    {
        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Fail(Exception ex) => Done.TrySetException(ex);
    }
}
