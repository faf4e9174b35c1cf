// edge-sync-bench: QoS 1 publish rate through the SQLite outbox against a local Mosquitto, and event-creation → PUBACK latency.
// usage: edge-sync-bench [--events N] [--payload BYTES] [--rate EVENTS_PER_S] [--seconds S] [--sync Full|Normal] [--producers P]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Edge.Sync;
using Edge.Sync.Contract;
using Edge.Testing;
using Google.Protobuf;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var opts = Args.Parse(args);
Console.WriteLine($"edge-sync-bench: {opts.Events} events of ~{opts.Payload} B (saturation, {opts.Producers} producers), then {opts.Rate}/s for {opts.Seconds} s (latency); outbox synchronous={opts.Sync}");
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");

await using var broker = await MosquittoBroker.StartAsync();
var outboxDir = Directory.CreateTempSubdirectory("edge-sync-bench-").FullName;
try
{
    var saturation = await RunAsync(broker, opts, Path.Combine(outboxDir, "a.db"), paced: false);
    Report("saturation", saturation);
    var paced = await RunAsync(broker, opts, Path.Combine(outboxDir, "b.db"), paced: true);
    Report($"paced at {opts.Rate}/s", paced);
    Console.WriteLine($"RESULT sustained_rate_per_s={saturation.Rate:F0} p99_ms_at_saturation={saturation.P99:F1} p50_ms_at_{opts.Rate}_per_s={paced.P50:F2} p99_ms_at_{opts.Rate}_per_s={paced.P99:F2} sync={opts.Sync} payload_bytes={saturation.PayloadBytes}");
    return saturation.Rate >= 5000 ? 0 : 1;
}
finally
{
    Directory.Delete(outboxDir, recursive: true);
}

static void Report(string name, Result r) =>
    Console.WriteLine($"{name,-22} {r.Count,7} events ({r.PayloadBytes} B each) in {r.Elapsed.TotalSeconds,6:F2} s = {r.Rate,8:F0} events/s acknowledged; enqueue {r.EnqueueRate,8:F0}/s; creation→PUBACK p50 {r.P50,7:F2} ms, p99 {r.P99,7:F2} ms, max {r.Max,7:F2} ms");

static async Task<Result> RunAsync(MosquittoBroker broker, Args opts, string outboxPath, bool paced)
{
    var latencies = new ConcurrentBag<double>();
    using var listener = new MeterListener();
    listener.InstrumentPublished = (instrument, l) =>
    {
        if (instrument.Meter.Name == SyncMetrics.MeterName && instrument.Name == "edge.sync.publish.latency")
        {
            l.EnableMeasurementEvents(instrument);
        }
    };
    listener.SetMeasurementEventCallback<double>((_, value, _, _) => latencies.Add(value));
    listener.Start();

    var builder = Host.CreateApplicationBuilder();
    builder.Configuration.Sources.Clear();
    builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Sync:SiteId"] = "bench-site",
        ["Sync:KioskId"] = "kiosk-1",
        ["Sync:Broker:Host"] = broker.Host,
        ["Sync:Broker:Port"] = broker.Port.ToString(CultureInfo.InvariantCulture),
        ["Sync:Broker:Username"] = broker.Username,
        ["Sync:Broker:Password"] = broker.Password,
        ["Sync:Outbox:Path"] = outboxPath,
        ["Sync:Outbox:Synchronous"] = opts.Sync,
    });
    builder.Logging.ClearProviders();
    builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
    builder.Services.AddEdgeSync(builder.Configuration);
    using var host = builder.Build();
    await host.StartAsync();
    var sink = host.Services.GetRequiredService<IEventSink>();
    var metrics = host.Services.GetRequiredService<SyncMetrics>();
    var transport = host.Services.GetRequiredService<Edge.Sync.Mqtt.IMqttTransport>();
    await transport.ConnectAsync(CancellationToken.None);

    var count = paced ? opts.Rate * opts.Seconds : opts.Events;
    var heat = ByteString.CopyFrom(new byte[Math.Max(0, opts.Payload - 180)]);
    var payloadBytes = Event(0, heat).CalculateSize() + 36 + 21; // id + site/kiosk filled in by the sink
    var clock = Stopwatch.StartNew();
    if (paced)
    {
        using var outstanding = new SemaphoreSlim(512);
        var tasks = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / opts.Rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait);
            }

            await outstanding.WaitAsync();
            var e = Event(i, heat);
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    await sink.EnqueueAsync(e, CancellationToken.None);
                }
                finally
                {
                    outstanding.Release();
                }
            }));
        }

        await Task.WhenAll(tasks);
    }
    else
    {
        await Task.WhenAll(Enumerable.Range(0, opts.Producers).Select(p => Task.Run(async () =>
        {
            for (var i = p; i < count; i += opts.Producers)
            {
                await sink.EnqueueAsync(Event(i, heat), CancellationToken.None);
            }
        })));
    }

    var enqueueSeconds = clock.Elapsed.TotalSeconds;
    while (metrics.PublishedTotal < count)
    {
        await Task.Delay(1);
    }

    var elapsed = clock.Elapsed;
    await host.StopAsync();
    var sorted = latencies.Order().ToArray();
    double Pct(double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    return new Result(count, payloadBytes, elapsed, count / elapsed.TotalSeconds, count / enqueueSeconds, Pct(0.50), Pct(0.99), sorted.Length == 0 ? double.NaN : sorted[^1]);
}

static FaceEvent Event(int i, ByteString heat) => new()
{
    CaptureTimeUnixMs = 1_763_700_000_000 + i,
    ModelId = "emotion-int8-v1",
    ModelSha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    Scores = new Expressions { Angry = 0.01f, Fear = 0.02f, Happy = 0.81f, Sad = 0.03f, Surprise = 0.05f, Neutral = 0.08f },
    FaceBox = new Box { X1 = 212, Y1 = 96, X2 = 348, Y2 = 262 },
    DetectorScore = 0.97f,
    Heatmaps = { new Heatmap { TargetClass = "happy", CodecVersion = 1, Width = 32, Height = 32, Scale = 0.004f, Data = heat } },
};

internal sealed record Result(int Count, int PayloadBytes, TimeSpan Elapsed, double Rate, double EnqueueRate, double P50, double P99, double Max);

internal sealed record Args(int Events, int Payload, int Rate, int Seconds, string Sync, int Producers)
{
    public static Args Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        int Int(string name, int fallback) => int.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        return new Args(Int("--events", 50_000), Int("--payload", 1024), Int("--rate", 5000), Int("--seconds", 10), Get("--sync", "Full"), Int("--producers", 64));
    }
}
