using System.Collections.Concurrent;
using Edge.Sync.Contract;
using Edge.Sync.Mqtt;
using Edge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Edge.Sync.Tests;

/// <summary>A real generic host running AddEdgeSync against a test broker and a temp outbox file.</summary>
internal sealed class SyncTestHost : IAsyncDisposable
{
    private SyncTestHost(IHost host) => Host = host;

    public IHost Host { get; }

    public IEventSink Sink => Host.Services.GetRequiredService<IEventSink>();

    public SyncHealth Health => Host.Services.GetRequiredService<SyncHealth>();

    public SyncMetrics Metrics => Host.Services.GetRequiredService<SyncMetrics>();

    public Outbox.SqliteOutbox Outbox => Host.Services.GetRequiredService<Outbox.SqliteOutbox>();

    public IMqttTransport Transport => Host.Services.GetRequiredService<IMqttTransport>();

    public static Dictionary<string, string?> Config(string host, int port, string? user, string? password, string outboxPath) => new()
    {
        ["Sync:SiteId"] = "site-a",
        ["Sync:KioskId"] = "kiosk-1",
        ["Sync:Broker:Host"] = host,
        ["Sync:Broker:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Sync:Broker:Username"] = user,
        ["Sync:Broker:Password"] = password,
        ["Sync:Broker:ConnectTimeout"] = "00:00:05",
        ["Sync:Broker:PublishTimeout"] = "00:00:10",
        ["Sync:Broker:ReconnectMinDelay"] = "00:00:00.050",
        ["Sync:Broker:ReconnectMaxDelay"] = "00:00:00.500",
        ["Sync:Broker:CircuitBreakerFailures"] = "20",
        ["Sync:Broker:CircuitBreakerBreak"] = "00:00:01",
        ["Sync:Outbox:Path"] = outboxPath,
        ["Sync:Outbox:Synchronous"] = "Normal",
    };

    public static Dictionary<string, string?> Config(MosquittoBroker broker, string outboxPath) =>
        Config(broker.Host, broker.Port, broker.Username, broker.Password, outboxPath);

    public static async Task<SyncTestHost> StartAsync(Dictionary<string, string?> config, ILoggerProvider logs, CancellationToken cancellationToken, Action<IServiceCollection>? services = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(config);
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        services?.Invoke(builder.Services);
        builder.Services.AddEdgeSync(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return new SyncTestHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await Host.StopAsync(cts.Token);
        if (Host is IAsyncDisposable d)
        {
            await d.DisposeAsync();
        }
        else
        {
            Host.Dispose();
        }
    }

    public static string TempOutbox() => Path.Combine(Directory.CreateTempSubdirectory("edge-outbox-").FullName, "outbox.db");

    private static long _counter;

    public static FaceEvent NewEvent(int payloadPadding = 0) => new()
    {
        CaptureTimeUnixMs = 1_763_700_000_000 + Interlocked.Increment(ref _counter),
        ModelId = "emotion-int8",
        ModelSha256 = new string('a', 64),
        Scores = new Expressions { Happy = 0.7f, Neutral = 0.3f },
        FaceBox = new Box { X1 = 10, Y1 = 20, X2 = 110, Y2 = 140 },
        DetectorScore = 0.93f,
        FaceCropPng = Google.Protobuf.ByteString.CopyFrom(new byte[payloadPadding]),
    };
}

/// <summary>A subscriber on the events topic that counts every event id it sees.</summary>
internal sealed class EventCollector : IAsyncDisposable
{
    private EventCollector(MosquittoTransport transport) => Transport = transport;

    public MosquittoTransport Transport { get; }

    public ConcurrentDictionary<string, int> Seen { get; } = new();

    public long Deliveries;

    public static async Task<EventCollector> StartAsync(MosquittoBroker broker, ILogger<MosquittoTransport> logger, CancellationToken cancellationToken)
    {
        var options = MosquittoTransportTests.OptionsFor(broker, "collector-" + Guid.NewGuid().ToString("N")[..8]);
        options.ReceiveMaximum = 65535;
        options.SessionExpiry = TimeSpan.FromHours(1);
        var collector = new EventCollector(new MosquittoTransport(options, logger, TimeProvider.System));
        await collector.Transport.ConnectAsync(cancellationToken);
        await collector.Transport.SubscribeAsync(EdgeTopics.AllKiosks(EdgeTopics.EventsKind), MqttQos.AtLeastOnce, (m, _) =>
        {
            var e = FaceEventContract.FromBytes(m.Payload.Span);
            collector.Seen.AddOrUpdate(e.EventId, 1, (_, n) => n + 1);
            Interlocked.Increment(ref collector.Deliveries);
            return ValueTask.CompletedTask;
        }, cancellationToken);
        return collector;
    }

    public async Task WaitForAsync(IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var wanted = ids.ToList();
        while (!wanted.All(Seen.ContainsKey))
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => Transport.DisposeAsync();

    /// <summary>Waits for a moment when every event that has left the outbox has reached this subscriber.</summary>
    public async Task WaitCaughtUpAsync(SyncTestHost host, Func<int> produced, CancellationToken cancellationToken)
    {
        while (true)
        {
            var made = produced();
            var pending = (await host.Outbox.GetStatsAsync(cancellationToken)).PendingCount;
            if (Seen.Count + pending >= made)
            {
                return;
            }

            await Task.Yield();
        }
    }

    /// <summary>
    /// The end-to-end check. Every id must have been acknowledged by the broker (the kiosk's guarantee, strict). An id may
    /// be missing at the subscriber only if the broker that acknowledged it was then killed -9 — Mosquitto holds
    /// acknowledged, undelivered messages in memory only — and those broker-side losses are returned so the test can report
    /// them. "Acknowledged by a killed broker" means its acknowledged publish was sent before the last kill (see
    /// <see cref="RecordingTransport"/>): anything sent after the last kill went to the last broker, which is never killed.
    /// </summary>
    public async Task<int> AssertDeliveredAsync(IReadOnlyList<string> ids, ConcurrentDictionary<string, long> acked, IReadOnlyList<long> kills, CancellationToken cancellationToken)
    {
        // Wait for every id, or for deliveries to go quiet for 3 s.
        var last = Interlocked.Read(ref Deliveries);
        var quietSince = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!ids.All(Seen.ContainsKey))
        {
            await Task.Delay(100, cancellationToken);
            var now = Interlocked.Read(ref Deliveries);
            if (now != last)
            {
                (last, quietSince) = (now, System.Diagnostics.Stopwatch.GetTimestamp());
            }
            else if (System.Diagnostics.Stopwatch.GetElapsedTime(quietSince) > TimeSpan.FromSeconds(3))
            {
                break;
            }
        }

        Assert.All(ids, id => Assert.True(acked.ContainsKey(id), $"event {id} was never acknowledged by the broker (kiosk-side loss)"));
        var missing = ids.Where(id => !Seen.ContainsKey(id)).ToList();
        var lastKill = kills.Count == 0 ? long.MinValue : kills.Max();
        var unexplained = missing.Where(id => acked[id] > lastKill).ToList();
        Assert.True(unexplained.Count == 0, $"{unexplained.Count} events sent after the last broker kill and acknowledged never reached the subscriber: {string.Join(",", unexplained.Take(3))}");
        return missing.Count;
    }

    /// <summary>Explains missing ids: never acknowledged by the broker (kiosk-side loss) or acknowledged but not delivered (broker-side).</summary>
    public string Explain(IEnumerable<string> ids, ConcurrentDictionary<string, long> acked)
    {
        var missing = ids.Where(id => !Seen.ContainsKey(id)).ToList();
        var neverAcked = missing.Count(id => !acked.ContainsKey(id));
        return $"{missing.Count} ids missing at the subscriber: {neverAcked} never acknowledged by the broker (kiosk side), " +
               $"{missing.Count - neverAcked} acknowledged but not delivered (broker side); first: {string.Join(",", missing.Take(3))}";
    }
}
