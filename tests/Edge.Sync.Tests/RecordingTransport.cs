using System.Collections.Concurrent;
using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Sync.Tests;

/// <summary>
/// The real transport, plus a record of every event id the broker acknowledged (PUBACK success). It lets a test tell the
/// kiosk's guarantee (every event acknowledged by the broker) apart from what the broker then does with it.
/// The value is the Stopwatch timestamp taken when the last successful publish of that id was <em>sent</em> (PublishAsync
/// called), not when its PUBACK was processed. A test compares it with the time a broker was killed: a publish sent after
/// the kill can only have been acknowledged by the restarted broker. The PUBACK time cannot tell that: the killed broker's
/// last PUBACKs sit in the kiosk's socket buffer and are read, and their continuations run, after the kill — under load,
/// tens of milliseconds after.
/// </summary>
internal sealed class RecordingTransport(MosquittoTransport inner, ConcurrentDictionary<string, long> acked) : IMqttTransport
{
    public string ClientId => inner.ClientId;

    public MqttConnectionState State => inner.State;

    public MqttTransportError? LastError => inner.LastError;

    public long ReconnectCount => inner.ReconnectCount;

    public event EventHandler<MqttStateChangedEventArgs>? StateChanged
    {
        add => inner.StateChanged += value;
        remove => inner.StateChanged -= value;
    }

    public static Action<IServiceCollection> Register(ConcurrentDictionary<string, long> acked) => services =>
        services.AddSingleton<IMqttTransport>(sp => new RecordingTransport(
            new MosquittoTransport(
                sp.GetRequiredService<IOptions<EdgeSyncOptions>>().Value.EffectiveBroker(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<SyncHealth>()),
                sp.GetRequiredService<ILogger<MosquittoTransport>>(),
                sp.GetRequiredService<TimeProvider>()),
            acked));

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public async Task<MqttPublishResult> PublishAsync(string topic, ReadOnlyMemory<byte> payload, MqttQos qos, bool retain, CancellationToken cancellationToken)
    {
        var sent = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = await inner.PublishAsync(topic, payload, qos, retain, cancellationToken);
        if (result.IsSuccess && topic.EndsWith("/events", StringComparison.Ordinal))
        {
            // The latest send wins: an id acknowledged again after a kill must then be delivered.
            acked.AddOrUpdate(FaceEventContract.FromBytes(payload.Span).EventId, sent, (_, previous) => Math.Max(previous, sent));
        }

        return result;
    }

    public Task SubscribeAsync(string topicFilter, MqttQos qos, Func<MqttMessage, CancellationToken, ValueTask> handler, CancellationToken cancellationToken) =>
        inner.SubscribeAsync(topicFilter, qos, handler, cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
