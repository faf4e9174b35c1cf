using Edge.Sync.Outbox;
using Edge.Testing;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Edge.Sync.Tests;

public sealed class SqliteOutboxTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly SyncHealth _health = new();
    private readonly SyncMetrics _metrics = new(null, new SyncHealth());
    private readonly string _path = SyncTestHost.TempOutbox();

    private SqliteOutbox Open(OutboxOptions? options = null, TimeProvider? time = null)
    {
        options ??= new OutboxOptions();
        options.Path = _path;
        return SqliteOutbox.Open(options, time ?? TimeProvider.System, _logs.CreateLogger<SqliteOutbox>(), _metrics);
    }

    private static byte[] Bytes(int n, byte fill = 1) => Enumerable.Repeat(fill, n).ToArray();

    [Fact]
    public async Task ReadAsync_AfterReopen_ReturnsUnacknowledgedEventsInOrder()
    {
        await using (var outbox = Open())
        {
            for (var i = 0; i < 10; i++)
            {
                await outbox.EnqueueAsync($"id-{i}", "edge/v1/s/k/events", Bytes(100), CancellationToken.None);
            }

            var first = await outbox.ReadAsync(0, 3, CancellationToken.None);
            foreach (var r in first)
            {
                outbox.Acknowledge(r.Seq);
            }

            await outbox.FlushAsync(CancellationToken.None);
        }

        await using var reopened = Open();
        var rest = await reopened.ReadAsync(0, 100, CancellationToken.None);
        Assert.Equal(Enumerable.Range(3, 7).Select(i => $"id-{i}"), rest.Select(r => r.EventId));
        Assert.True(rest.Zip(rest.Skip(1)).All(p => p.First.Seq < p.Second.Seq));
        var stats = await reopened.GetStatsAsync(CancellationToken.None);
        Assert.Equal(7, stats.PendingCount);
        Assert.Equal(7 * (100 + "edge/v1/s/k/events".Length), stats.PendingBytes);
    }

    [Fact]
    public async Task EnqueueAsync_CapReachedWithDropOldest_DropsOldestAndCounts()
    {
        await using var outbox = Open(new OutboxOptions { MaxBytes = 1024 * 1024, MaxEventBytes = 300 * 1024, FullPolicy = OutboxFullPolicy.DropOldest });
        for (var i = 0; i < 5; i++)
        {
            await outbox.EnqueueAsync($"id-{i}", "t", Bytes(300 * 1024), CancellationToken.None); // 4th and 5th exceed 1 MiB
        }

        var left = await outbox.ReadAsync(0, 100, CancellationToken.None);
        Assert.Equal(["id-2", "id-3", "id-4"], left.Select(r => r.EventId));
        Assert.Equal(2, _metrics.DroppedTotal);
        Assert.True(_logs.Contains(6203));
        Assert.True((await outbox.GetStatsAsync(CancellationToken.None)).PendingBytes <= 1024 * 1024);
    }

    [Fact]
    public async Task EnqueueAsync_CapReachedWithRejectNew_RefusesNewAndCounts()
    {
        await using var outbox = Open(new OutboxOptions { MaxBytes = 1024 * 1024, MaxEventBytes = 300 * 1024, FullPolicy = OutboxFullPolicy.RejectNew });
        for (var i = 0; i < 3; i++)
        {
            await outbox.EnqueueAsync($"id-{i}", "t", Bytes(300 * 1024), CancellationToken.None);
        }

        var ex = await Assert.ThrowsAsync<EventRefusedException>(async () => await outbox.EnqueueAsync("id-3", "t", Bytes(300 * 1024), CancellationToken.None));

        Assert.Equal(EventRefusal.OutboxFull, ex.Reason);
        Assert.Contains("Sync:Outbox:MaxBytes", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, _metrics.RefusedTotal);
        Assert.Equal(3, (await outbox.ReadAsync(0, 100, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task ExpireAsync_EventsOlderThanMaxAge_DeletedAndCounted()
    {
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), manualTimestamps: true);
        await using var outbox = Open(new OutboxOptions { MaxAge = TimeSpan.FromHours(1) }, time);
        await outbox.EnqueueAsync("old", "t", Bytes(10), CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(50));
        await outbox.EnqueueAsync("young", "t", Bytes(10), CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(20));

        var expired = await outbox.ExpireAsync(CancellationToken.None);

        Assert.Equal(1, expired);
        Assert.Equal(1, _metrics.DroppedTotal);
        Assert.Equal(["young"], (await outbox.ReadAsync(0, 10, CancellationToken.None)).Select(r => r.EventId));
        Assert.Equal(TimeSpan.FromMinutes(20), (await outbox.GetStatsAsync(CancellationToken.None)).OldestPendingAge);
    }

    [Fact]
    public async Task ExpireAsync_WallClockStepsForwardPastMaxAge_KeepsTheBacklogAndAgesOnFromTheStep()
    {
        // A kiosk booted with a clock weeks behind while the network was down; NTP steps it forward when it comes back.
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), manualTimestamps: true);
        await using var outbox = Open(new OutboxOptions { MaxAge = TimeSpan.FromDays(7) }, time);
        await outbox.EnqueueAsync("during-outage", "t", Bytes(10), CancellationToken.None);
        time.Advance(TimeSpan.FromHours(1));
        time.Step(TimeSpan.FromDays(30));

        Assert.Equal(0, await outbox.ExpireAsync(CancellationToken.None));
        await outbox.EnqueueAsync("after-step", "t", Bytes(10), CancellationToken.None);
        Assert.Equal(TimeSpan.FromHours(1), (await outbox.GetStatsAsync(CancellationToken.None)).OldestPendingAge);
        Assert.True(_logs.Contains(6208));

        time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(30));
        Assert.Equal(1, await outbox.ExpireAsync(CancellationToken.None)); // 7 days and 30 min old by the monotonic clock
        Assert.Equal(["after-step"], (await outbox.ReadAsync(0, 10, CancellationToken.None)).Select(r => r.EventId));
    }

    [Fact]
    public async Task EnqueueAsync_DiskFull_RefusedWithClearErrorCountedAndEarlierEventsKept()
    {
        // SQLite's max_page_count stands in for a full disk: the write fails with SQLITE_FULL exactly as on a full volume.
        await using var outbox = Open(new OutboxOptions { MaxPageCount = 40 });
        var accepted = 0;
        EventRefusedException? refused = null;
        for (var i = 0; i < 200 && refused is null; i++)
        {
            try
            {
                await outbox.EnqueueAsync($"id-{i}", "t", Bytes(4000), CancellationToken.None);
                accepted++;
            }
            catch (EventRefusedException ex)
            {
                refused = ex;
            }
        }

        Assert.NotNull(refused);
        Assert.Equal(EventRefusal.DiskFull, refused.Reason);
        Assert.Contains("disk full", refused.Message, StringComparison.Ordinal);
        Assert.NotNull(outbox.LastWriteError);
        Assert.Equal(1, _metrics.RefusedTotal);
        Assert.True(_logs.Contains(6202));
        Assert.Equal(accepted, (await outbox.ReadAsync(0, 1000, CancellationToken.None)).Count);
        Assert.Equal(SyncHealthStatus.Unhealthy, SyncHealth.Classify(Mqtt.MqttConnectionState.Connected, null, outbox.LastWriteError, TimeSpan.Zero, false).Status);

        // Space comes back when events are acknowledged: writing works again and the error clears.
        foreach (var r in await outbox.ReadAsync(0, 1000, CancellationToken.None))
        {
            outbox.Acknowledge(r.Seq);
        }

        await outbox.FlushAsync(CancellationToken.None);
        await outbox.EnqueueAsync("after", "t", Bytes(4000), CancellationToken.None);
        Assert.Null(outbox.LastWriteError);
    }

    [Fact]
    public async Task Acknowledge_WriteFailsForAWhile_AckAppliedOnceItWorksAndRefusedEnqueueCounted()
    {
        await using var outbox = Open();
        var delivered = await outbox.EnqueueAsync("delivered", "t", Bytes(10), CancellationToken.None);
        using var other = new SqliteConnection($"Data Source={_path};Pooling=False");
        other.Open();
        void Sql(string text)
        {
            using var command = other.CreateCommand();
            command.CommandText = text;
            command.ExecuteNonQuery();
        }

        // Every write to the outbox table fails, as on an I/O error, until the triggers go.
        Sql("CREATE TRIGGER no_delete BEFORE DELETE ON outbox BEGIN SELECT RAISE(ABORT, 'injected write failure'); END;");
        Sql("CREATE TRIGGER no_insert BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'injected write failure'); END;");
        outbox.Acknowledge(delivered);
        var refused = await Assert.ThrowsAsync<EventRefusedException>(async () => await outbox.EnqueueAsync("new", "t", Bytes(10), CancellationToken.None));
        Assert.Equal(EventRefusal.StorageError, refused.Reason);
        Assert.NotNull(outbox.LastWriteError);
        Sql("DROP TRIGGER no_delete; DROP TRIGGER no_insert;");

        await outbox.FlushAsync(CancellationToken.None);

        Assert.Empty(await outbox.ReadAsync(0, 10, CancellationToken.None)); // the acknowledgement was kept and applied
        Assert.Equal(0, (await outbox.GetStatsAsync(CancellationToken.None)).PendingCount);
        Assert.Equal(1, _metrics.RefusedTotal);
    }

    [Fact]
    public async Task DeadLetter_RefusedEvent_MovedOutOfPendingAndKept()
    {
        await using var outbox = Open();
        var seq = await outbox.EnqueueAsync("bad", "t", Bytes(10), CancellationToken.None);
        await outbox.EnqueueAsync("good", "t", Bytes(10), CancellationToken.None);

        outbox.DeadLetter(seq, "0x87 Not authorized");
        await outbox.FlushAsync(CancellationToken.None);

        Assert.Equal(["good"], (await outbox.ReadAsync(0, 10, CancellationToken.None)).Select(r => r.EventId));
        var dead = Assert.Single(await outbox.ReadDeadLettersAsync(10, CancellationToken.None));
        Assert.Equal(("bad", "0x87 Not authorized"), dead);
        Assert.Equal(1, (await outbox.GetStatsAsync(CancellationToken.None)).DeadLetterCount);
    }

    [Fact]
    public async Task EnqueueAsync_ManyConcurrentProducers_AllCommittedWithDistinctIncreasingSeq()
    {
        await using var outbox = Open(new OutboxOptions { Synchronous = OutboxSynchronous.Full });
        var seqs = await Task.WhenAll(Enumerable.Range(0, 2000).Select(i => outbox.EnqueueAsync($"id-{i}", "t", Bytes(50), CancellationToken.None).AsTask()));

        Assert.Equal(2000, seqs.Distinct().Count());
        Assert.Equal(2000, (await outbox.GetStatsAsync(CancellationToken.None)).PendingCount);
        Assert.Equal(2000, _metrics.EnqueuedTotal);
    }

    public void Dispose()
    {
        _metrics.Dispose();
        try
        {
            Directory.Delete(Path.GetDirectoryName(_path)!, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
