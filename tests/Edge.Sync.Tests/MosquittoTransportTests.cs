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
