using System.Net;
using System.Net.Sockets;
using Edge.Sync.Mqtt;
using Edge.Sync.Outbox;
using Edge.Testing;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace Edge.Sync.Tests;

public sealed class OutboxPublisherServiceTests(ITestOutputHelper output)
{
    private readonly TestLoggerProvider _logs = new(output);

    [Fact]
    public async Task EnqueueAsync_BrokerUp_SubscriberGetsEveryEventAndOutboxEmpties()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var collector = await EventCollector.StartAsync(broker, _logs.CreateLogger<MosquittoTransport>(), cts.Token);
        await using var host = await SyncTestHost.StartAsync(SyncTestHost.Config(broker, SyncTestHost.TempOutbox()), _logs, cts.Token);

        var ids = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            ids.Add(await host.Sink.EnqueueAsync(SyncTestHost.NewEvent(), cts.Token));
        }

        await collector.WaitForAsync(ids, cts.Token);
        await WaitUntilAsync(() => host.Health.Current is { PendingCount: 0, Status: SyncHealthStatus.Healthy }, cts.Token);
        Assert.Equal(200, host.Metrics.PublishedTotal);
        Assert.All(ids, id => Assert.Equal(7, Edge.Sync.Contract.Uuid7Generator.TimestampOf(id) is null ? 0 : Guid.Parse(id).Version));
    }

    [Fact]
    public async Task Start_WrongPassword_UnhealthyWithClearErrorAndEventsStayQueued()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var outboxPath = SyncTestHost.TempOutbox();
        var ids = new List<string>();
        await using (var bad = await SyncTestHost.StartAsync(SyncTestHost.Config(broker.Host, broker.Port, broker.Username, "wrong", outboxPath), _logs, cts.Token))
        {
            for (var i = 0; i < 20; i++)
            {
                ids.Add(await bad.Sink.EnqueueAsync(SyncTestHost.NewEvent(), cts.Token));
            }

            // The health snapshot is refreshed by the publisher loop, so wait for it to have seen all 20, then check it says so.
            await WaitUntilAsync(() => bad.Health.Current is { Status: SyncHealthStatus.Unhealthy, PendingCount: >= 20 }, cts.Token);
            var health = bad.Health.Current;
            Assert.Equal(MqttErrorKind.NotAuthorized, health.LastTransportError?.Kind);
            Assert.Contains("refused the connection", health.LastTransportError!.Message, StringComparison.Ordinal);
            Assert.Contains("Username/Password", health.LastTransportError.Message, StringComparison.Ordinal);
            Assert.Equal(20, health.PendingCount);
            Assert.Equal(0, bad.Metrics.PublishedTotal);
        }

        // Fixed credentials, same outbox: everything queued goes out.
        await using var collector = await EventCollector.StartAsync(broker, _logs.CreateLogger<MosquittoTransport>(), cts.Token);
        await using var good = await SyncTestHost.StartAsync(SyncTestHost.Config(broker, outboxPath), _logs, cts.Token);
        await collector.WaitForAsync(ids, cts.Token);
        await WaitUntilAsync(() => good.Health.Current.PendingCount == 0, cts.Token);
    }

    [Fact]
    public async Task Start_BrokerUnreachable_EventsQueuedThenPublishedWhenBrokerStarts()
    {
        // The subscriber's persistent session exists before the outage, so whatever the kiosk publishes after the broker
        // comes back is queued for it even if the kiosk reconnects first.
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var collector = await EventCollector.StartAsync(broker, _logs.CreateLogger<MosquittoTransport>(), cts.Token);
        await broker.StopAsync();
        await using var host = await SyncTestHost.StartAsync(SyncTestHost.Config(broker, SyncTestHost.TempOutbox()), _logs, cts.Token);
        var ids = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            ids.Add(await host.Sink.EnqueueAsync(SyncTestHost.NewEvent(), cts.Token));
        }

        await WaitUntilAsync(() => host.Health.Current is { LastTransportError.Kind: MqttErrorKind.Unreachable, PendingCount: 50 }, cts.Token);
        var before = host.Health.Current;
        Assert.NotEqual(SyncHealthStatus.Healthy, before.Status);
        Assert.Equal(50, before.PendingCount);
        Assert.Contains($"{broker.Port}", before.LastTransportError!.Message, StringComparison.Ordinal);

        await broker.StartAgainAsync(cts.Token);
        await collector.WaitForAsync(ids, cts.Token);
        await WaitUntilAsync(() => host.Health.Current is { PendingCount: 0, Connection: MqttConnectionState.Connected }, cts.Token);
    }

    [Fact]
    public async Task EnqueueAsync_OversizedEvent_RefusedAndCounted()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var config = SyncTestHost.Config(broker, SyncTestHost.TempOutbox());
        config["Sync:Outbox:MaxEventBytes"] = "4096";
        await using var host = await SyncTestHost.StartAsync(config, _logs, cts.Token);

        var refused = await Assert.ThrowsAsync<EventRefusedException>(async () => await host.Sink.EnqueueAsync(SyncTestHost.NewEvent(payloadPadding: 10_000), cts.Token));

        Assert.Equal(EventRefusal.TooLarge, refused.Reason);
        Assert.Contains("Sync:Outbox:MaxEventBytes", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, host.Metrics.RefusedTotal);
        Assert.True(_logs.Contains(6201));
        await host.Sink.EnqueueAsync(SyncTestHost.NewEvent(payloadPadding: 1000), cts.Token); // a normal one still goes
    }

    [Fact]
    public async Task Publish_BrokerKilledMidStream_NoEventLost()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var collector = await EventCollector.StartAsync(broker, _logs.CreateLogger<MosquittoTransport>(), cts.Token);
        var acked = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        var kills = new List<long>();
        await using var host = await SyncTestHost.StartAsync(SyncTestHost.Config(broker, SyncTestHost.TempOutbox()), _logs, cts.Token, RecordingTransport.Register(acked));
        await broker.SaveAsync(cts.Token); // the collector's session is on disk before the first kill
        var ids = new List<string>();
        var produced = 0;
        var killer = Task.Run(async () =>
        {
            // Kill while producing and publishing, at a moment the subscriber holds what the outbox released
            // (Mosquitto keeps undelivered messages in memory only; see ZeroLossTests).
            await WaitUntilAsync(() => collector.Seen.Count >= 1000, cts.Token);
            await collector.WaitCaughtUpAsync(host, () => Volatile.Read(ref produced), cts.Token);
            await broker.KillAsync();
            kills.Add(System.Diagnostics.Stopwatch.GetTimestamp());
            await Task.Delay(300, cts.Token);
            await broker.StartAgainAsync(cts.Token);
        }, cts.Token);
        for (var i = 0; i < 3000; i++)
        {
            ids.Add(await host.Sink.EnqueueAsync(SyncTestHost.NewEvent(), cts.Token));
            Interlocked.Increment(ref produced);
        }

        await killer;
        await WaitUntilAsync(() => host.Health.Current is { PendingCount: 0, Reconnects: >= 1 }, cts.Token);
        var brokerLost = await collector.AssertDeliveredAsync(ids, acked, kills, cts.Token);
        output.WriteLine($"{ids.Count} events: {collector.Seen.Count} delivered, {brokerLost} acknowledged by the broker and lost in its kill -9");
    }

    [Fact]
    public void AddEdgeSync_InvalidConfiguration_StartFailsNamingTheKeys()
    {
        var config = SyncTestHost.Config("127.0.0.1", 70000, null, "secret", SyncTestHost.TempOutbox());
        config["Sync:KioskId"] = "kiosk/1";
        config["Sync:Broker:ReconnectMinDelay"] = "00:05:00";
        config["Sync:Outbox:MaxAge"] = "00:00:10";

        var ex = Assert.ThrowsAny<OptionsValidationException>(() =>
            SyncTestHost.StartAsync(config, _logs, CancellationToken.None).GetAwaiter().GetResult());

        Assert.Contains("Sync:KioskId", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Sync:Broker:Port", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Sync:Broker:Password", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Sync:Broker:ReconnectMinDelay", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Sync:Outbox:MaxAge", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Backlog_UplinkSlowerThanTheWindowPerPublishTimeout_DrainsWithoutResending()
    {
        // 1000 messages in flight of ~1.1 KB on a 150 KB/s uplink: the last PUBACK of a window comes ~7 s after its
        // message was queued, longer than the 3 s PublishTimeout, while PUBACKs keep arriving all along.
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var collector = await EventCollector.StartAsync(broker, _logs.CreateLogger<MosquittoTransport>(), cts.Token);
        await using var uplink = ThrottledUplink.Start(broker.Port, bytesPerSecond: 150_000);
        var config = SyncTestHost.Config(broker.Host, uplink.Port, broker.Username, broker.Password, SyncTestHost.TempOutbox());
        config["Sync:Broker:PublishTimeout"] = "00:00:03";
        await using var host = await SyncTestHost.StartAsync(config, _logs, cts.Token);
        const int events = 1500;
        for (var i = 0; i < events; i++)
        {
            await host.Sink.EnqueueAsync(SyncTestHost.NewEvent(payloadPadding: 1000), cts.Token);
        }

        await WaitUntilAsync(() => host.Health.Current is { PendingCount: 0 } && collector.Seen.Count == events, cts.Token);

        // Without a stall nothing is sent again; a 3 s pause of the whole test box would re-send at most one window.
        Assert.InRange(Interlocked.Read(ref collector.Deliveries), events, events + 1000);
    }

    /// <summary>A TCP relay to the broker whose client-to-broker direction carries at most <c>bytesPerSecond</c>.</summary>
    private sealed class ThrottledUplink : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        private ThrottledUplink(int brokerPort, double bytesPerSecond)
        {
            _listener.Start();
            _accepting = AcceptAsync(brokerPort, bytesPerSecond);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static ThrottledUplink Start(int brokerPort, double bytesPerSecond) => new(brokerPort, bytesPerSecond);

        private async Task AcceptAsync(int brokerPort, double bytesPerSecond)
        {
            var relays = new List<Task>();
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var broker = new TcpClient();
                    await broker.ConnectAsync(IPAddress.Loopback, brokerPort, _stop.Token);
                    relays.Add(RelayAsync(client, broker, bytesPerSecond));
                    relays.Add(RelayAsync(broker, client, double.PositiveInfinity));
                }
            }
            catch (OperationCanceledException)
            {
                await Task.WhenAll(relays);
            }
        }

        private async Task RelayAsync(TcpClient from, TcpClient to, double bytesPerSecond)
        {
            var buffer = new byte[2048];
            var sent = 0L;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                int read;
                while ((read = await from.GetStream().ReadAsync(buffer, _stop.Token)) > 0)
                {
                    await to.GetStream().WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                    sent += read;
                    var ahead = TimeSpan.FromSeconds(sent / bytesPerSecond) - clock.Elapsed;
                    if (ahead > TimeSpan.Zero)
                    {
                        await Task.Delay(ahead, _stop.Token);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
            {
                // the relay ends with either side
            }
            finally
            {
                from.Dispose();
                to.Dispose();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(50, cancellationToken);
        }
    }
}
