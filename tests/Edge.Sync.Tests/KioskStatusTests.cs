using System.Collections.Concurrent;
using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Xunit.Abstractions;

namespace Edge.Sync.Tests;

/// <summary>The kiosk's retained status topic carries the contract's <see cref="KioskStatus"/>, not text.</summary>
public sealed class KioskStatusTests(ITestOutputHelper output)
{
    private readonly TestLoggerProvider _logs = new(output);

    [Theory]
    [InlineData("V5")]
    [InlineData("V311")]
    public async Task AddEdgeSync_ConnectThenPlannedStop_StatusIsKioskStatusOnlineThenOfflineRetained(string protocol)
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watcher = new MosquittoTransport(MosquittoTransportTests.OptionsFor(broker, "status-watcher"), _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        await watcher.ConnectAsync(cts.Token);
        var seen = new ConcurrentQueue<MqttMessage>();
        await watcher.SubscribeAsync(EdgeTopics.AllKiosks(EdgeTopics.StatusKind), MqttQos.AtLeastOnce, (m, _) =>
        {
            seen.Enqueue(m);
            return ValueTask.CompletedTask;
        }, cts.Token);
        var config = SyncTestHost.Config(broker, SyncTestHost.TempOutbox());
        config["Sync:Broker:Protocol"] = protocol;
        var before = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

        var host = await SyncTestHost.StartAsync(config, _logs, cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => !seen.IsEmpty, cts.Token);
        await host.DisposeAsync(); // planned stop: MQTT 5 through the Last Will, 3.1.1 published by the kiosk
        await OutboxPublisherServiceTests.WaitUntilAsync(() => seen.Count >= 2, cts.Token);

        var messages = seen.ToArray();
        Assert.All(messages, m => Assert.Equal("edge/v1/site-a/kiosk-1/status", m.Topic));
        var online = KioskStatus.Parser.ParseFrom(messages[0].Payload.Span);
        var offline = KioskStatus.Parser.ParseFrom(messages[1].Payload.Span);
        Assert.Equal((1u, "site-a", "kiosk-1", true), (online.SchemaVersion, online.SiteId, online.KioskId, online.Online));
        Assert.Equal((1u, "site-a", "kiosk-1", false), (offline.SchemaVersion, offline.SiteId, offline.KioskId, offline.Online));
        Assert.InRange(online.TimeUnixMs, before - 1000, TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        Assert.InRange(offline.TimeUnixMs, online.TimeUnixMs, TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds()); // never older: readers keep the newest

        // A consumer that connects later gets the retained offline status.
        await using var late = new MosquittoTransport(MosquittoTransportTests.OptionsFor(broker, "status-late"), _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        await late.ConnectAsync(cts.Token);
        var retained = new ConcurrentQueue<MqttMessage>();
        await late.SubscribeAsync(EdgeTopics.AllKiosks(EdgeTopics.StatusKind), MqttQos.AtLeastOnce, (m, _) =>
        {
            retained.Enqueue(m);
            return ValueTask.CompletedTask;
        }, cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => !retained.IsEmpty, cts.Token);
        Assert.True(retained.TryPeek(out var last) && last.Retain);
        Assert.False(KioskStatus.Parser.ParseFrom(last.Payload.Span).Online);
    }

    [Fact]
    public void KioskStatusPayload_HealthKnown_CarriesIdsTimeFromTimeProviderAndBacklog()
    {
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 11, 22, 1, 2, 3, TimeSpan.Zero));
        var health = SyncHealthSnapshot.Initial with { PendingCount = 12, OldestPendingAge = TimeSpan.FromSeconds(90), UpdatedAt = time.GetUtcNow() };

        var status = KioskStatus.Parser.ParseFrom(EdgeSyncOptions.KioskStatusPayload("plant-7", "gate-2", online: false, time, health));

        Assert.Equal(1u, status.SchemaVersion);
        Assert.Equal(("plant-7", "gate-2", false), (status.SiteId, status.KioskId, status.Online));
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), status.TimeUnixMs);
        Assert.Equal(12, status.OutboxPending);
        Assert.Equal(90, status.OldestPendingAgeSeconds);
        Assert.NotEmpty(status.Version);
    }
}
