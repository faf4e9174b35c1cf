using System.Collections.Concurrent;
using System.Text;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Xunit.Abstractions;

namespace Edge.Sync.Tests;

public sealed class MosquittoTransportTests(ITestOutputHelper output)
{
    private readonly TestLoggerProvider _logs = new(output);

    internal static MqttBrokerOptions OptionsFor(MosquittoBroker broker, string clientId) => new()
    {
        Host = broker.Host,
        Port = broker.Port,
        Username = broker.Username,
        Password = broker.Password,
        ClientId = clientId,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PublishTimeout = TimeSpan.FromSeconds(10),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
        CircuitBreakerBreak = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task PublishAsync_QoS1WithSubscriber_CompletesOnPubAckAndDelivers()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var subscriber = new MosquittoTransport(OptionsFor(broker, "sub-1"), _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        await using var publisher = new MosquittoTransport(OptionsFor(broker, "pub-1"), _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        var received = new ConcurrentQueue<MqttMessage>();
        await subscriber.ConnectAsync(cts.Token);
        await subscriber.SubscribeAsync("edge/v1/+/+/events", MqttQos.AtLeastOnce, (m, _) => { received.Enqueue(m); return ValueTask.CompletedTask; }, cts.Token);
        await publisher.ConnectAsync(cts.Token);

        var result = await publisher.PublishAsync("edge/v1/site-a/kiosk-1/events", Encoding.UTF8.GetBytes("hello"), MqttQos.AtLeastOnce, false, cts.Token);

        Assert.True(result.IsSuccess, $"reason 0x{result.ReasonCode:X2}");
        Assert.Equal(5, publisher.ProtocolVersion);
        while (received.IsEmpty)
        {
            await Task.Delay(10, cts.Token);
        }

        Assert.True(received.TryDequeue(out var message));
        Assert.Equal("edge/v1/site-a/kiosk-1/events", message.Topic);
        Assert.Equal("hello", Encoding.UTF8.GetString(message.Payload.Span));
    }
}

public sealed partial class MosquittoTransportFailureTests(ITestOutputHelper output)
{
    private readonly TestLoggerProvider _logs = new(output);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "shutdown")]
    private static partial int Shutdown(int fd, int how);

    private MosquittoTransport Create(MqttBrokerOptions options) => new(options, _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);

    private static async Task<List<string>> CollectAsync(MosquittoTransport transport, string filter, CancellationToken cancellationToken)
    {
        var seen = new List<string>();
        await transport.SubscribeAsync(filter, MqttQos.AtLeastOnce, (m, _) =>
        {
            lock (seen)
            {
                seen.Add($"{m.Topic}={Encoding.UTF8.GetString(m.Payload.Span)}{(m.Retain ? " (retained)" : string.Empty)}");
            }

            return ValueTask.CompletedTask;
        }, cancellationToken);
        return seen;
    }

    [Fact]
    public async Task ConnectAsync_WrongPassword_NotAuthorizedErrorAndNeverConnected()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var options = MosquittoTransportTests.OptionsFor(broker, "wrong-pw");
        options.Password = "not-the-password";
        await using var transport = Create(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transport.ConnectAsync(cts.Token));

        Assert.NotEqual(MqttConnectionState.Connected, transport.State);
        Assert.Equal(MqttErrorKind.NotAuthorized, transport.LastError?.Kind);
        Assert.Contains(transport.LastError!.ReasonCode, new int?[] { 0x86, 0x87 }); // MQTT 5 "bad user name or password" or "not authorized"
        Assert.True(transport.ConnectFailureCount >= 1);
    }

    [Fact]
    public async Task ConnectAsync_BrokerDown_CircuitOpensAfterRepeatedFailures()
    {
        await using var broker = await MosquittoBroker.CreateAsync(); // config only, nothing listens
        var options = MosquittoTransportTests.OptionsFor(broker, "breaker");
        options.CircuitBreakerFailures = 3;
        options.CircuitBreakerBreak = TimeSpan.FromSeconds(30);
        await using var transport = Create(options);
        var states = new List<MqttConnectionState>();
        transport.StateChanged += (_, e) => { lock (states) { states.Add(e.Current); } };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        _ = transport.ConnectAsync(cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => transport.State == MqttConnectionState.CircuitOpen, cts.Token);

        Assert.Equal(MqttErrorKind.Unreachable, transport.LastError?.Kind);
        Assert.Contains("Connection refused", transport.LastError!.Message, StringComparison.OrdinalIgnoreCase);
        Assert.True(_logs.Contains(6104));
        var failures = transport.ConnectFailureCount;
        await Task.Delay(1000, cts.Token);
        Assert.Equal(failures, transport.ConnectFailureCount); // open breaker: no hammering
    }

    [Fact]
    public async Task ConnectAsync_TlsAgainstPlainListener_TlsErrorReported()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var options = MosquittoTransportTests.OptionsFor(broker, "tls");
        options.Tls = new MqttTlsOptions { Enabled = true, CaFile = "/etc/ssl/certs/ca-certificates.crt" };
        await using var transport = Create(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => transport.ConnectAsync(cts.Token));

        Assert.NotEqual(MqttConnectionState.Connected, transport.State);
        Assert.NotNull(transport.LastError);
        output.WriteLine($"{transport.LastError.Kind}: {transport.LastError.Message}");
        Assert.Equal(MqttErrorKind.Tls, transport.LastError.Kind);
    }

    [Fact]
    public async Task ConnectAsync_V311_RoundTripWorks()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var options = MosquittoTransportTests.OptionsFor(broker, "v311");
        options.Protocol = MqttProtocol.V311;
        await using var transport = Create(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await transport.ConnectAsync(cts.Token);
        var seen = await CollectAsync(transport, "t/#", cts.Token);

        var result = await transport.PublishAsync("t/1", "x"u8.ToArray(), MqttQos.AtLeastOnce, false, cts.Token);

        Assert.Equal(4, transport.ProtocolVersion);
        Assert.True(result.IsSuccess);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (seen) { return seen.Count == 1; } }, cts.Token);
    }

    [Fact]
    public async Task Connection_CutWithoutDisconnect_BrokerPublishesWillThenOnlineAgainAfterReconnect()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var options = MosquittoTransportTests.OptionsFor(broker, "kiosk-will");
        options.StatusTopic = "edge/v1/site-a/kiosk-1/status";
        await using var watcher = Create(MosquittoTransportTests.OptionsFor(broker, "watcher"));
        await watcher.ConnectAsync(cts.Token);
        var seen = await CollectAsync(watcher, "edge/v1/+/+/status", cts.Token);
        await using var kiosk = Create(options);
        await kiosk.ConnectAsync(cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (seen) { return seen.Count >= 1; } }, cts.Token);

        Assert.Equal(0, Shutdown(kiosk.SocketDescriptor, 2)); // SHUT_RDWR: a dead network, no DISCONNECT sent

        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (seen) { return seen.Count >= 3; } }, cts.Token);
        lock (seen)
        {
            Assert.Equal(
                ["edge/v1/site-a/kiosk-1/status=online", "edge/v1/site-a/kiosk-1/status=offline", "edge/v1/site-a/kiosk-1/status=online"],
                seen.Take(3));
        }

        await using var late = Create(MosquittoTransportTests.OptionsFor(broker, "late-watcher"));
        await late.ConnectAsync(cts.Token);
        var retained = await CollectAsync(late, "edge/v1/+/+/status", cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (retained) { return retained.Count >= 1; } }, cts.Token);
        lock (retained)
        {
            Assert.Equal("edge/v1/site-a/kiosk-1/status=online (retained)", retained[0]);
        }

        Assert.Equal(1, kiosk.ReconnectCount);
    }

    [Theory]
    [InlineData(MqttProtocol.V5)]
    [InlineData(MqttProtocol.V311)]
    public async Task DisposeAsync_PlannedStop_StatusBecomesOfflineRetained(MqttProtocol protocol)
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var options = MosquittoTransportTests.OptionsFor(broker, "kiosk-stop");
        options.StatusTopic = "edge/v1/site-a/kiosk-1/status";
        options.Protocol = protocol;
        var kiosk = Create(options);
        await kiosk.ConnectAsync(cts.Token);
        await using var watcher = Create(MosquittoTransportTests.OptionsFor(broker, "watcher-stop"));
        await watcher.ConnectAsync(cts.Token);
        var seen = await CollectAsync(watcher, "edge/v1/+/+/status", cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (seen) { return seen.Count >= 1; } }, cts.Token);

        await kiosk.DisposeAsync();

        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (seen) { return seen.Count >= 2; } }, cts.Token);
        lock (seen)
        {
            Assert.Equal("edge/v1/site-a/kiosk-1/status=offline", seen[1]);
        }

        await using var late = Create(MosquittoTransportTests.OptionsFor(broker, "late-stop"));
        await late.ConnectAsync(cts.Token);
        var retained = await CollectAsync(late, "edge/v1/+/+/status", cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (retained) { return retained.Count >= 1; } }, cts.Token);
        lock (retained)
        {
            Assert.Equal("edge/v1/site-a/kiosk-1/status=offline (retained)", retained[0]);
        }
    }

    [Theory]
    [InlineData(MqttProtocol.V5)]
    [InlineData(MqttProtocol.V311)]
    public async Task SubscribeAsync_RequestedBeforeConnected_SentOnceAndRetainedDeliveredOnce(MqttProtocol protocol)
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var kiosk = Create(MosquittoTransportTests.OptionsFor(broker, "kiosk-retained"));
        await kiosk.ConnectAsync(cts.Token);
        await kiosk.PublishAsync("edge/v1/site-a/kiosk-1/status", "online"u8.ToArray(), MqttQos.AtLeastOnce, retain: true, cts.Token);
        var options = MosquittoTransportTests.OptionsFor(broker, "watcher-early");
        options.Protocol = protocol;
        await using var watcher = Create(options);

        // Subscribe first, then connect: the subscription is pending when the on-connect re-subscribe runs.
        var subscribed = CollectAsync(watcher, "edge/v1/+/+/status", cts.Token);
        await watcher.ConnectAsync(cts.Token);
        var seen = await subscribed;
        await kiosk.PublishAsync("edge/v1/site-a/kiosk-1/status", "marker"u8.ToArray(), MqttQos.AtLeastOnce, retain: false, cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (seen) { return seen.Exists(m => m.EndsWith("=marker", StringComparison.Ordinal)); } }, cts.Token);
        await Task.Delay(300, cts.Token); // room for a late duplicate to show up

        lock (seen)
        {
            // A second SUBSCRIBE would have made the broker send the retained message again.
            Assert.Equal(["edge/v1/site-a/kiosk-1/status=online (retained)", "edge/v1/site-a/kiosk-1/status=marker"], seen);
        }
    }

    [Fact]
    public async Task SubscribeAsync_SharedSubscription_EachMessageGoesToOneMember()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var a = Create(MosquittoTransportTests.OptionsFor(broker, "member-a"));
        await using var b = Create(MosquittoTransportTests.OptionsFor(broker, "member-b"));
        await using var publisher = Create(MosquittoTransportTests.OptionsFor(broker, "pub"));
        await Task.WhenAll(a.ConnectAsync(cts.Token), b.ConnectAsync(cts.Token), publisher.ConnectAsync(cts.Token));
        var filter = Edge.Sync.Contract.EdgeTopics.Shared("audit", "edge/v1/+/+/events");
        var seenA = await CollectAsync(a, filter, cts.Token);
        var seenB = await CollectAsync(b, filter, cts.Token);

        for (var i = 0; i < 100; i++)
        {
            await publisher.PublishAsync("edge/v1/s/k/events", Encoding.UTF8.GetBytes($"{i}"), MqttQos.AtLeastOnce, false, cts.Token);
        }

        await OutboxPublisherServiceTests.WaitUntilAsync(() => { lock (seenA) { lock (seenB) { return seenA.Count + seenB.Count >= 100; } } }, cts.Token);
        await Task.Delay(200, cts.Token);
        lock (seenA)
        {
            lock (seenB)
            {
                Assert.Equal(100, seenA.Count + seenB.Count);
                Assert.Equal(100, seenA.Union(seenB).Distinct().Count());
                Assert.NotEmpty(seenA);
                Assert.NotEmpty(seenB);
            }
        }
    }

    [Theory]
    [InlineData(0, 0)]      // session expiry 0: the broker forgets us at disconnect
    [InlineData(3600, 10)]  // clean start off + session expiry: the broker keeps subscription and queued QoS 1 messages
    public async Task ConnectAsync_SessionExpiry_BrokerKeepsSessionOnlyWhenAsked(int expirySeconds, int expectedQueued)
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var options = MosquittoTransportTests.OptionsFor(broker, "durable-sub");
        options.SessionExpiry = TimeSpan.FromSeconds(expirySeconds);
        await using (var first = Create(options))
        {
            await first.ConnectAsync(cts.Token);
            await CollectAsync(first, "q/#", cts.Token);
        }

        await using (var publisher = Create(MosquittoTransportTests.OptionsFor(broker, "pub-offline")))
        {
            await publisher.ConnectAsync(cts.Token);
            for (var i = 0; i < 10; i++)
            {
                await publisher.PublishAsync("q/1", Encoding.UTF8.GetBytes($"{i}"), MqttQos.AtLeastOnce, false, cts.Token);
            }
        }

        await using var second = Create(options);
        var seen = new List<string>();
        var subscribing = second.SubscribeAsync("q/#", MqttQos.AtLeastOnce, (m, _) => { lock (seen) { seen.Add(Encoding.UTF8.GetString(m.Payload.Span)); } return ValueTask.CompletedTask; }, cts.Token);
        await second.ConnectAsync(cts.Token);
        await subscribing;
        await Task.Delay(500, cts.Token);

        lock (seen)
        {
            Assert.Equal(expectedQueued, seen.Count);
        }
    }

    [Fact]
    public async Task PublishAsync_NotConnected_ThrowsNotConnected()
    {
        await using var broker = await MosquittoBroker.CreateAsync();
        await using var transport = Create(MosquittoTransportTests.OptionsFor(broker, "idle"));

        await Assert.ThrowsAsync<MqttNotConnectedException>(() => transport.PublishAsync("t", "x"u8.ToArray(), MqttQos.AtLeastOnce, false, CancellationToken.None));
    }
}
