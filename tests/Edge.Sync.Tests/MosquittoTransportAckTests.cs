using System.Text;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Xunit.Abstractions;

namespace Edge.Sync.Tests;

/// <summary>
/// <see cref="MqttBrokerOptions.AckAfterHandled"/> against a real Mosquitto: a QoS 1 message's PUBACK reaches the broker
/// only after the message is handled, so a connection that dies first gets it again.
/// </summary>
public sealed partial class MosquittoTransportAckTests(ITestOutputHelper output)
{
    private readonly TestLoggerProvider _logs = new(output);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "shutdown")]
    private static partial int Shutdown(int fd, int how);

    private MosquittoTransport Create(MosquittoBroker broker, string clientId, bool ackAfterHandled = true)
    {
        var options = MosquittoTransportTests.OptionsFor(broker, clientId);
        options.AckAfterHandled = ackAfterHandled;
        return new MosquittoTransport(options, _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
    }

    private static async Task PublishAsync(MosquittoTransport publisher, IEnumerable<string> payloads, CancellationToken cancellationToken)
    {
        foreach (var payload in payloads)
        {
            var result = await publisher.PublishAsync("q/1", Encoding.UTF8.GetBytes(payload), MqttQos.AtLeastOnce, false, cancellationToken);
            Assert.True(result.IsSuccess);
        }
    }

    private sealed class Inbox
    {
        private readonly List<MqttMessage> _messages = [];

        public ValueTask AddAsync(MqttMessage message, CancellationToken cancellationToken)
        {
            lock (_messages)
            {
                _messages.Add(message);
            }

            return ValueTask.CompletedTask;
        }

        public MqttMessage[] Snapshot()
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }

        public string[] Payloads() => [.. Snapshot().Select(m => Encoding.UTF8.GetString(m.Payload.Span))];

        public Task WaitForAsync(int count, CancellationToken cancellationToken) =>
            OutboxPublisherServiceTests.WaitUntilAsync(() => Snapshot().Length >= count, cancellationToken);
    }

    [Fact]
    public async Task Acknowledge_NotCalledBeforeTheConnectionDies_BrokerSendsTheMessageAgainUntilAcknowledged()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        await using var consumer = Create(broker, "holder");
        await using var publisher = Create(broker, "pub", ackAfterHandled: false);
        await Task.WhenAll(consumer.ConnectAsync(cts.Token), publisher.ConnectAsync(cts.Token));
        var inbox = new Inbox();
        await consumer.SubscribeAsync("q/#", MqttQos.AtLeastOnce, inbox.AddAsync, MqttAcknowledgement.ByConsumer, cts.Token);

        await PublishAsync(publisher, ["m0"], cts.Token);
        await inbox.WaitForAsync(1, cts.Token);
        var first = inbox.Snapshot()[0];
        Assert.True(first.Sequence > 0);
        Assert.Equal(1, consumer.UnacknowledgedCount);

        // While m0 is unacknowledged nothing more is read: m1 stays with the broker (or in the socket buffer).
        await PublishAsync(publisher, ["m1"], cts.Token);
        await Task.Delay(300, cts.Token);
        Assert.Equal(["m0"], inbox.Payloads());

        // A dead network (no DISCONNECT): the supervisor reconnects with the same client id, the broker sends both again.
        Assert.Equal(0, Shutdown(consumer.SocketDescriptor, 2));
        await OutboxPublisherServiceTests.WaitUntilAsync(() => inbox.Payloads().Count(p => p == "m0") == 2, cts.Token);
        var second = inbox.Snapshot()[1];
        Assert.Equal("m0", Encoding.UTF8.GetString(second.Payload.Span));
        Assert.True(second.Sequence > first.Sequence);
        var held = consumer.UnacknowledgedCount;
        consumer.Acknowledge(first.Sequence); // from the dead connection: ignored
        Assert.Equal(held, consumer.UnacknowledgedCount);

        // Again: the PUBACK queued on the first connection was not sent on the second one either.
        Assert.Equal(0, Shutdown(consumer.SocketDescriptor, 2));
        await OutboxPublisherServiceTests.WaitUntilAsync(() => inbox.Payloads().Count(p => p == "m0") == 3, cts.Token);
        var thirdAt = Array.LastIndexOf(inbox.Payloads(), "m0");

        // Acknowledged: the PUBACKs go out, reading goes on (m1), and after one more drop neither comes back.
        await OutboxPublisherServiceTests.WaitUntilAsync(() =>
        {
            foreach (var message in inbox.Snapshot()[thirdAt..])
            {
                consumer.Acknowledge(message.Sequence);
            }

            return inbox.Payloads()[thirdAt..] is ["m0", "m1"] && consumer.UnacknowledgedCount == 0;
        }, cts.Token);
        await Task.Delay(200, cts.Token); // the PUBACKs are written on the next pass
        Assert.Equal(0, Shutdown(consumer.SocketDescriptor, 2));
        await OutboxPublisherServiceTests.WaitUntilAsync(() => consumer.State == MqttConnectionState.Connected && consumer.ReconnectCount == 3, cts.Token);
        await PublishAsync(publisher, ["marker"], cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => inbox.Payloads().Contains("marker"), cts.Token);
        await Task.Delay(300, cts.Token);
        Assert.Equal(["m0", "m1", "marker"], inbox.Payloads()[thirdAt..]);
    }

    [Fact]
    public async Task SubscribeAsync_WhenHandled_PubAckWaitsForTheHandlerToReturn()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var consumer = Create(broker, "slow-handler");
        await using var publisher = Create(broker, "pub-slow", ackAfterHandled: false);
        await Task.WhenAll(consumer.ConnectAsync(cts.Token), publisher.ConnectAsync(cts.Token));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await consumer.SubscribeAsync("q/#", MqttQos.AtLeastOnce, async (m, ct) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await release.Task.WaitAsync(ct);
            }
        }, cts.Token);

        await PublishAsync(publisher, ["slow"], cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => Volatile.Read(ref calls) == 1, cts.Token);
        Assert.Equal(1, consumer.UnacknowledgedCount);
        Assert.Equal(0, Shutdown(consumer.SocketDescriptor, 2)); // the handler has not returned: no PUBACK yet
        await OutboxPublisherServiceTests.WaitUntilAsync(() => consumer.ReconnectCount == 1, cts.Token);
        release.SetResult();

        await OutboxPublisherServiceTests.WaitUntilAsync(() => Volatile.Read(ref calls) == 2, cts.Token);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => consumer.UnacknowledgedCount == 0, cts.Token);
    }

    [Fact]
    public async Task AckAfterHandled_BacklogInTheSession_ManyMessagesPerWaitUpToTheReceiveMaximum()
    {
        // The broker's max_inflight_messages (20 here, Mosquitto's default) applies to MQTT 3.1.1 clients; an MQTT 5
        // client's receive maximum decides how many unacknowledged messages it gets, and so how many one commit can take.
        await using var broker = await MosquittoBroker.StartAsync("max_inflight_messages 20");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var options = MosquittoTransportTests.OptionsFor(broker, "window");
        options.AckAfterHandled = true;
        options.ReceiveMaximum = 300;
        await using (var first = new MosquittoTransport(options, _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System))
        {
            await first.ConnectAsync(cts.Token);
            await first.SubscribeAsync("q/#", MqttQos.AtLeastOnce, (_, _) => ValueTask.CompletedTask, cts.Token);
        }

        await using var publisher = Create(broker, "pub-window", ackAfterHandled: false);
        await publisher.ConnectAsync(cts.Token);
        await PublishAsync(publisher, Enumerable.Range(0, 1000).Select(i => $"w{i}"), cts.Token); // queued in the session

        // A consumer that acknowledges what it holds whenever the transport waits for it (as the audit's writer commits).
        await using var consumer = new MosquittoTransport(options, _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        var inbox = new Inbox();
        var gate = new Lock();
        var held = new List<long>();
        var waiting = false;
        var inFlightAtWait = new List<int>();
        void Flush()
        {
            held.ForEach(consumer.Acknowledge);
            held.Clear();
        }

        consumer.AcknowledgementWaitChanged += (_, now) =>
        {
            lock (gate)
            {
                waiting = now;
                if (now)
                {
                    inFlightAtWait.Add(consumer.UnacknowledgedCount);
                    Flush();
                }
            }
        };
        var subscribing = consumer.SubscribeAsync("q/#", MqttQos.AtLeastOnce, async (m, ct) =>
        {
            await inbox.AddAsync(m, ct);
            lock (gate)
            {
                held.Add(m.Sequence);
                if (waiting)
                {
                    Flush();
                }
            }
        }, MqttAcknowledgement.ByConsumer, cts.Token);
        await consumer.ConnectAsync(cts.Token);
        await subscribing;

        await inbox.WaitForAsync(1000, cts.Token);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"w{i}"), inbox.Payloads());
        lock (gate)
        {
            output.WriteLine($"unacknowledged messages at each wait: {string.Join(' ', inFlightAtWait)}");
            Assert.True(inFlightAtWait.Max() > 20, $"at most {inFlightAtWait.Max()} messages per wait: the broker limited in-flight messages below the receive maximum");
            Assert.True(inFlightAtWait.Max() <= 300, $"{inFlightAtWait.Max()} messages in one wait: more than the receive maximum");
        }
    }

    [Fact]
    public async Task DisposeAsync_MessagesNotHandled_ConnectionDroppedAndTheNextInstanceGetsThem()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var publisher = Create(broker, "pub-dispose", ackAfterHandled: false);
        await publisher.ConnectAsync(cts.Token);
        var first = Create(broker, "audit-like");
        await first.ConnectAsync(cts.Token);
        var inbox = new Inbox();
        await first.SubscribeAsync("q/#", MqttQos.AtLeastOnce, inbox.AddAsync, MqttAcknowledgement.ByConsumer, cts.Token);
        await PublishAsync(publisher, ["d0"], cts.Token);
        await inbox.WaitForAsync(1, cts.Token);
        await PublishAsync(publisher, ["d1"], cts.Token); // not read: d0 is unhandled

        await first.DisposeAsync(); // no DISCONNECT, no PUBACK

        Assert.True(_logs.Contains(6120));
        await using var second = Create(broker, "audit-like");
        var again = new Inbox();
        // Subscribed before connecting, so the messages the broker sends again right after CONNACK find their handler.
        // Its SUBACK comes only after they are handled: the SUBSCRIBE waits behind their PUBACKs.
        var subscribing = second.SubscribeAsync("q/#", MqttQos.AtLeastOnce, again.AddAsync, MqttAcknowledgement.ByConsumer, cts.Token);
        await second.ConnectAsync(cts.Token);
        for (var i = 0; i < 2; i++)
        {
            await again.WaitForAsync(i + 1, cts.Token);
            second.Acknowledge(again.Snapshot()[i].Sequence);
        }

        await subscribing;
        Assert.Equal(["d0", "d1"], again.Payloads());

        // Everything handled: the planned stop is a clean DISCONNECT after the PUBACKs.
        await OutboxPublisherServiceTests.WaitUntilAsync(() => second.UnacknowledgedCount == 0, cts.Token);
        await second.DisconnectAsync(cts.Token);
        Assert.Equal(MqttConnectionState.Disconnected, second.State);
        await using var third = Create(broker, "audit-like");
        var none = new Inbox();
        var subscribingThird = third.SubscribeAsync("q/#", MqttQos.AtLeastOnce, none.AddAsync, MqttAcknowledgement.ByConsumer, cts.Token);
        await third.ConnectAsync(cts.Token);
        await subscribingThird;
        await Task.Delay(500, cts.Token);
        Assert.Empty(none.Snapshot());
    }

    [Fact]
    public async Task AckAfterHandled_HandlingOutlastsTheKeepAlive_ConnectionDropsAndTheMessageComesAgain()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        var options = MosquittoTransportTests.OptionsFor(broker, "slow-store");
        options.AckAfterHandled = true;
        options.KeepAlive = TimeSpan.FromSeconds(5);
        await using var consumer = new MosquittoTransport(options, _logs.CreateLogger<MosquittoTransport>(), TimeProvider.System);
        await using var publisher = Create(broker, "pub-slow-store", ackAfterHandled: false);
        var inbox = new Inbox();
        var subscribing = consumer.SubscribeAsync("q/#", MqttQos.AtLeastOnce, inbox.AddAsync, MqttAcknowledgement.ByConsumer, cts.Token);
        await Task.WhenAll(consumer.ConnectAsync(cts.Token), publisher.ConnectAsync(cts.Token));
        await subscribing;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await PublishAsync(publisher, ["k0"], cts.Token);
        await inbox.WaitForAsync(1, cts.Token);

        // Not acknowledged: the PINGREQ waits behind the held PUBACK, so after about 1.5 keep-alives without a packet from
        // us one side drops the connection. Nothing hangs, and the broker sends the message again.
        await inbox.WaitForAsync(2, cts.Token);
        output.WriteLine($"sent again after {clock.Elapsed.TotalSeconds:F1} s, {consumer.ReconnectCount} reconnect(s)");
        Assert.Equal(["k0", "k0"], inbox.Payloads());
        Assert.True(consumer.ReconnectCount >= 1);
        consumer.Acknowledge(inbox.Snapshot()[1].Sequence);
        await OutboxPublisherServiceTests.WaitUntilAsync(() => consumer.UnacknowledgedCount == 0, cts.Token);
    }

    [Fact]
    public async Task SubscribeAsync_ByConsumerWithoutAckAfterHandled_Refused()
    {
        await using var broker = await MosquittoBroker.CreateAsync();
        await using var transport = Create(broker, "no-hold", ackAfterHandled: false);

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            transport.SubscribeAsync("q/#", MqttQos.AtLeastOnce, (_, _) => ValueTask.CompletedTask, MqttAcknowledgement.ByConsumer, CancellationToken.None));
    }
}
